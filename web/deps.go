// Package web is the node's HTTP face: the JSON API under /api/v1, the
// server-rendered backoffice, login and sessions, health and metrics. It
// decides nothing about organisation data itself: the services it calls are
// the interfaces below, which the node implements.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
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
	// Guests (UserID starts with GuestIDPrefix) act in CallID only, with
	// Grants, the in-call permissions of their guest role.
	Kind   storage.UserKind
	CallID string
	Grants []string
	// Token is the API token the request came with; nil for a browser
	// session and the local operator.
	Token *storage.APIToken
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

// Sessions stores browser sessions and reads the audit log; the node passes
// its site store.
type Sessions interface {
	CreateWebSession(ctx context.Context, s storage.WebSession) error
	WebSession(ctx context.Context, id string) (storage.WebSession, error)
	TouchWebSession(ctx context.Context, id string, seen, expires time.Time) error
	DeleteWebSession(ctx context.Context, id string) error
	Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
}

// UserInput creates a user.
type UserInput struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

// UserPatch changes a user; nil fields are left as they are.
type UserPatch struct {
	Email    *string   `json:"email"`
	Name     *string   `json:"name"`
	Active   *bool     `json:"active"`
	Roles    *[]string `json:"roles"`
	Password *string   `json:"password"`
}

// Admin changes organisation data. Every method validates its input
// (returning *storage.ValidationError naming the field), proposes the change
// through the replicated log, writes the audit log, and returns
// storage.ErrFederationUnreachable when the change cannot be committed, or
// storage.ErrOutcomeUnknown when it was sent but no answer came.
type Admin interface {
	// Authenticate checks an e-mail and password and returns the active
	// user, or storage.ErrUnauthenticated.
	Authenticate(ctx context.Context, email, password string) (storage.User, error)

	// ReadBarrier waits until the node's copy of the organisation data
	// (Deps.Org) holds every change committed anywhere before the call,
	// so that reads which follow are linearizable; it returns
	// storage.ErrFederationUnreachable when the leader cannot vouch for it.
	ReadBarrier(ctx context.Context) error

	CreateUser(ctx context.Context, a Actor, in UserInput) (storage.User, error)
	UpdateUser(ctx context.Context, a Actor, id string, p UserPatch) (storage.User, error)
	// ChangePassword changes the actor's own password after checking the
	// current one, and ends every web session of the actor.
	ChangePassword(ctx context.Context, a Actor, current, next string) error
	// PasswordChangeRequired reports whether the user still has the
	// password generated at installation, which they must replace before
	// anything else.
	PasswordChangeRequired(ctx context.Context, userID string) bool

	CreateTeam(ctx context.Context, a Actor, name string) (storage.Team, error)
	RenameTeam(ctx context.Context, a Actor, id, name string) (storage.Team, error)
	DeleteTeam(ctx context.Context, a Actor, id string) error
	SetTeamMember(ctx context.Context, a Actor, teamID, userID string, role storage.TeamRole) error
	RemoveTeamMember(ctx context.Context, a Actor, teamID, userID string) error

	// PutLabelGroup creates the group when g.ID is empty, else updates it.
	PutLabelGroup(ctx context.Context, a Actor, g storage.LabelGroup) (storage.LabelGroup, error)
	DeleteLabelGroup(ctx context.Context, a Actor, id string) error
	PutLabel(ctx context.Context, a Actor, l storage.Label) (storage.Label, error)
	DeleteLabel(ctx context.Context, a Actor, id string) error

	PutContact(ctx context.Context, a Actor, c storage.Contact) (storage.Contact, error)
	DeleteContact(ctx context.Context, a Actor, id string) error

	// CreateToken returns the token record and its secret, shown once.
	// A token made with a token has at most its scope and expiry.
	CreateToken(ctx context.Context, a Actor, in TokenInput) (storage.APIToken, string, error)
	// DeleteToken revokes one of the actor's own tokens.
	DeleteToken(ctx context.Context, a Actor, id string) error
	// RevokeOrgToken revokes any token of the actor's organisation.
	RevokeOrgToken(ctx context.Context, a Actor, id string) error

	PolicyAdmin
}

// Health reports whether the node can serve (readiness).
type Health interface {
	Ready(ctx context.Context) error
}

// Deps is everything the web layer is given by the node.
type Deps struct {
	Logger   *slog.Logger
	Org      storage.OrgReader
	Sessions Sessions
	Authz    Authorizer
	Admin    Admin
	Health   Health
	// Cluster is the federation; nil leaves its routes out.
	Cluster Cluster
	// Calls is the call service; nil leaves its routes out.
	Calls Calls
	// Invites is the invitation service; nil leaves its routes out.
	Invites Invites
	// History lists sessions, federated ones included at headquarters;
	// nil leaves its routes out.
	History SessionHistory
	// Events pushes incoming calls to users' pages; nil leaves its routes
	// out.
	Events Events
	// Media stores and serves session media; nil leaves its routes out.
	Media Media
	// Metrics serves /metrics (the node's own Prometheus registry).
	Metrics http.Handler
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DefaultOrgID is the organisation of the node's local operator.
	DefaultOrgID string
	// Version is shown in the UI footer and /api/v1/version.
	Version string
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
