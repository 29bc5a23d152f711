// Package web is the node's HTTP face: the JSON API under /api/v1, the
// server-rendered backoffice, login and sessions, health and metrics. It
// decides nothing about organisation data itself: the services it calls are
// interfaces, each declared next to the handlers that use it and gathered in
// Deps, which the node implements.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"siteline/storage"
)

// Actor is who a request acts for. Local is the operator on the node's own
// admin socket (the owner of the data directory), who holds every
// permission.
type Actor struct {
	UserID string
	OrgID  string
	Name   string
	Email  string
	Local  bool
	// Service names a service of the node acting as Local ("scim"), which
	// the audit log names instead of the operator.
	Service string
	// Guests (UserID starts with GuestIDPrefix) act in CallID only, with
	// Grants, the in-call permissions of their guest role.
	Kind   storage.UserKind
	CallID string
	Grants []string
	// Token is the API token the request came with; nil for a browser
	// session and the local operator.
	Token *storage.APIToken
	// Device is the kind of device a call is joined from (Device), set
	// on the signaling socket.
	Device string
}

// Authorizer answers permission questions from the node's local policy.
type Authorizer interface {
	// Check returns *storage.ForbiddenError naming the permission when the
	// user lacks it.
	Check(orgID, userID, permission string) error
	// Permissions lists the user's effective permission ids.
	Permissions(orgID, userID string) []string
	// Roles lists the roles the user holds in the organisation.
	Roles(orgID, userID string) []string
}

// Sessions stores browser sessions, finds API tokens by the hash of their
// secret (the one read that comes before the organisation is known), and
// reads the audit log; the node passes its store.
type Sessions interface {
	TokenByHash(ctx context.Context, hash []byte) (storage.APIToken, error)
	CreateWebSession(ctx context.Context, s storage.WebSession) error
	WebSession(ctx context.Context, id string) (storage.WebSession, error)
	TouchWebSession(ctx context.Context, id string, seen, expires time.Time) error
	DeleteWebSession(ctx context.Context, id string) error
	Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
	// GuestNames maps guest ids to the names the guests gave, for the
	// audit log; unknown ids are left out.
	GuestNames(ctx context.Context, orgID string, ids []string) (map[string]string, error)
}

// Admin gathers the organisation's use cases: login and passwords, the read
// barrier and every change of organisation data, as the node's admin
// service implements them together; web takes each part on its own (Deps),
// declared next to the handlers that use it. Every change validates
// its input (returning *storage.ValidationError naming the field), proposes
// the change through the replicated log, writes the audit log, and returns
// storage.ErrFederationUnreachable when the change cannot be committed, or
// storage.ErrOutcomeUnknown when it was sent but no answer came.
type Admin interface {
	Accounts             // auth.go
	Barrier              // consistency.go
	Users                // ui_users.go
	Teams                // ui_teams.go
	Labels               // ui_labels.go
	Contacts             // ui_contacts.go
	Tokens               // api_tokens.go
	PolicyAdmin          // api_policy.go
	HistorySettingsAdmin // ui_history_settings.go
}

// Health reports whether the node can serve (readiness).
type Health interface {
	Ready(ctx context.Context) error
}

// Deps is everything the web layer is given by the node.
type Deps struct {
	Logger *slog.Logger
	// Org reads organisation data, one organisation at a time (reads.go).
	Org      OrgReader
	Sessions Sessions
	Authz    Authorizer
	Health   Health
	// The use cases that change organisation data, one interface for each
	// (Admin); all are required.
	Accounts Accounts
	Barrier  Barrier
	Users    Users
	Teams    Teams
	Labels   Labels
	Contacts Contacts
	Tokens   Tokens
	Policy   PolicyAdmin
	Settings HistorySettingsAdmin
	// Cluster is the federation; nil leaves its routes out.
	Cluster Cluster
	// Calls is the call service; nil leaves its routes out.
	Calls Calls
	// Invites is the invitation service; nil leaves its routes out.
	Invites Invites
	// Members invites people to become users by e-mail; nil leaves its
	// routes out (api_members.go).
	Members Members
	// People applies labels to users and imports members and contacts
	// from CSV; nil leaves its routes out (people.go).
	People People
	// Activity reads users' labels, last logins and last calls for the
	// members list; nil shows none.
	Activity Activity
	// History lists sessions, federated ones included at headquarters;
	// nil leaves its routes out.
	History SessionHistory
	// Dashboards reads the dashboards' rollups; nil leaves their routes
	// out (dashboard.go).
	Dashboards Dashboards
	// Events pushes incoming calls to users' pages; nil leaves its routes
	// out.
	Events Events
	// Queues is the team queues and the auto-assign switch; nil leaves
	// their routes out (api_queues.go).
	Queues Queues
	// Phone is the phonebook's presence and direct calls to users; nil
	// leaves its routes out and the phonebook without its users.
	Phone Phone
	// PresenceFeed updates the phonebook's presence live; nil leaves the
	// presence shown as it was when the page was read.
	PresenceFeed PresenceFeed
	// Supervision is the live team dashboard; nil leaves its routes out.
	Supervision Supervision
	// Media stores and serves session media; nil leaves its routes out.
	Media Media
	// Reports is the service-report use case; nil (or no Calls) leaves its
	// routes out.
	Reports Reports
	// SSO runs single sign-on logins and SSOAdmin edits their settings;
	// nil leaves their routes out (sso.go).
	SSO      SSO
	SSOAdmin SSOAdmin
	// SCIM serves /scim/v2 to the organisation's identity provider; nil
	// leaves it out (scim.go).
	SCIM SCIM
	// Metrics serves /metrics (the node's own Prometheus registry).
	Metrics http.Handler
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DefaultOrgID is the organisation of the node's local operator.
	DefaultOrgID string
	// Version is shown in the UI footer and /api/v1/version.
	Version string
}

// missing names the required dependencies that are nil.
func (d Deps) missing() error {
	var names []string
	for _, dep := range []struct {
		name string
		set  bool
	}{
		{"Org", d.Org != nil}, {"Sessions", d.Sessions != nil}, {"Authz", d.Authz != nil}, {"Health", d.Health != nil},
		{"Accounts", d.Accounts != nil}, {"Barrier", d.Barrier != nil}, {"Users", d.Users != nil}, {"Teams", d.Teams != nil},
		{"Labels", d.Labels != nil}, {"Contacts", d.Contacts != nil}, {"Tokens", d.Tokens != nil}, {"Policy", d.Policy != nil},
		{"Settings", d.Settings != nil},
	} {
		if !dep.set {
			names = append(names, dep.name)
		}
	}
	if len(names) > 0 {
		return fmt.Errorf("web: Deps lacks %s", strings.Join(names, ", "))
	}
	return nil
}

// Config is the web layer's own settings.
type Config struct {
	BodyLimit               int
	SessionTTL              time.Duration
	IdleTTL                 time.Duration
	LoginFailuresPerAccount int
	LoginFailuresPerAddress int
	LoginWindow             time.Duration
	// UploadLimit is the largest media upload (media.max_upload); only
	// POST /calls/:id/media may send more than BodyLimit.
	UploadLimit int
	// TokenMaxTTL ends API tokens stored without expiry that long after
	// their creation (tokens.max_ttl).
	TokenMaxTTL time.Duration
	// TLS is set when the public listener speaks HTTPS: answers then carry
	// Strict-Transport-Security.
	TLS bool
	// PublicURL is the address users open (http.public_url), accepted as
	// an Origin besides the request's own scheme and host.
	PublicURL string
	// TrustedProxies are the reverse proxies (http.trusted_proxies) whose
	// X-Forwarded-For, -Proto and -Host are believed.
	TrustedProxies []netip.Prefix
	// MaxConcurrentUploads bounds the uploads received at once
	// (media.max_concurrent_uploads); 0 is no bound.
	MaxConcurrentUploads int
	// MetricsToken opens /metrics on the public listener to a request
	// bearing it (metrics.token); empty keeps it to the admin socket.
	MetricsToken string
	// LinearizableReadsPerSecond and LinearizableReadBurst limit each
	// user's reads with Siteline-Read: linearizable; 0 sets no limit.
	LinearizableReadsPerSecond int
	LinearizableReadBurst      int
}
