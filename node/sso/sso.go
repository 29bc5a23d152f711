// Package sso logs an organisation's people in with their company
// identity: OpenID Connect (authorization code flow with PKCE, state and
// nonce) and SAML 2.0 (signed assertions, checked for audience, recipient,
// expiry, InResponseTo and replay). A login ends in an Identity, which the
// organisation's mapping turns into roles, teams and labels; a Provisioner
// creates or updates the user from it (just-in-time provisioning). The
// settings are organisation data, read from a Store; the web layer starts
// the session.
package sso

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// Store reads the settings and keeps the replay cache.
type Store interface {
	SSOSettings(ctx context.Context, orgID string) (storage.SSOSettings, error)
	// ConsumeAssertion records a SAML assertion id until expires and
	// returns storage.ErrConflict for one already recorded.
	ConsumeAssertion(ctx context.Context, id string, expires time.Time) error
	// EndSSOSessions ends this node's browser sessions of a SAML NameID.
	EndSSOSessions(ctx context.Context, orgID, nameID string) (int, error)
}

// Login is a login that succeeded: the user (created or updated), the
// page to land on, and what logging out at the provider will need.
type Login struct {
	User storage.User
	Next string
	Link storage.SSOLink
}

// Provisioner creates the user of a first login and updates them on the
// next ones.
type Provisioner interface {
	ProvisionSSO(ctx context.Context, orgID string, p Provision) (storage.User, error)
}

// Identity is what a provider says of the person who logged in.
type Identity struct {
	Issuer  string
	Subject string
	Email   string
	Name    string
	Groups  []string
}

// Provision is an identity with the mapping applied: the user's roles,
// teams and labels. Governed* are every role, team and label the mapping
// decides: those of them the user no longer gets are taken away; others
// the user holds are left alone.
type Provision struct {
	Email, Name          string
	Roles, Teams, Labels []string
	GovernedRoles        []string
	GovernedTeams        []string
	GovernedLabels       []string
}

// ErrLogin is matched by every refused login; the message says why.
var ErrLogin = errors.New("single sign-on refused")

// loginError is a refused login: its message says why, and it matches
// ErrLogin and, unless the provider could not be reached,
// storage.ErrUnauthenticated.
type loginError struct {
	msg         string
	unreachable bool
}

func (e *loginError) Error() string { return e.msg }
func (e *loginError) Is(target error) bool {
	return target == ErrLogin || target == storage.ErrUnauthenticated && !e.unreachable
}

func refused(format string, args ...any) error {
	return &loginError{msg: fmt.Sprintf(format, args...)}
}

// FlowTTL is how long a started login may take at the provider.
const FlowTTL = 10 * time.Minute

// MaxFlows bounds the logins in progress a node keeps, which anyone can
// start.
const MaxFlows = 10000

// Service runs the logins. Logins in progress are kept in memory: a login
// finishes at the node it started at.
type Service struct {
	store Store
	prov  Provisioner
	// BaseURL returns the node's public address (no trailing slash),
	// which redirect, ACS and metadata URLs are built on.
	baseURL func() string
	now     func() time.Time

	mu    sync.Mutex
	flows map[string]flow
	// logouts are the LogoutRequests sent and still expected back, by id,
	// with when they lapse.
	logouts map[string]time.Time
}

// flow is one login in progress, found by the id the browser keeps in a
// cookie.
type flow struct {
	orgID    string
	state    string
	nonce    string
	verifier string
	request  string // SAML AuthnRequest id
	next     string
	expires  time.Time
}

// New builds the service; now is the clock (time.Now when nil).
func New(store Store, prov Provisioner, baseURL func() string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, prov: prov, baseURL: baseURL, now: now, flows: map[string]flow{}, logouts: map[string]time.Time{}}
}

// Start is where a login goes: the provider's URL, and the flow id the
// browser must bring back (a cookie).
type Start struct {
	Redirect string
	Flow     string
}

// Begin starts a login at the organisation's provider (OIDC when both are
// set up); next is the page to land on afterwards.
func (s *Service) Begin(ctx context.Context, orgID, next string) (Start, error) {
	st, err := s.settings(ctx, orgID)
	if err != nil {
		return Start{}, err
	}
	if err := reachable(ctx, st); err != nil {
		return Start{}, err
	}
	f := flow{orgID: orgID, state: random(), nonce: random(), next: next, expires: s.now().Add(FlowTTL)}
	var redirect string
	switch {
	case st.OIDC != nil:
		redirect, err = s.beginOIDC(st, &f)
	case st.SAML != nil:
		redirect, err = s.beginSAML(st, &f)
	}
	if err != nil {
		return Start{}, err
	}
	id := random()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired()
	if len(s.flows) >= MaxFlows {
		return Start{}, &loginError{unreachable: true, msg: "too many logins are in progress at this node: try again in a few minutes"}
	}
	s.flows[id] = f
	return Start{Redirect: redirect, Flow: id}, nil
}

// reachable checks, before sending the browser there, that the
// provider's login endpoint answers connections from this node: when it
// does not, the login page says so and local accounts keep working.
func reachable(ctx context.Context, st storage.SSOSettings) error {
	var endpoint string
	switch {
	case st.OIDC != nil:
		endpoint = st.OIDC.AuthURL
	case st.SAML != nil:
		idp, err := ParseIdPMetadata(st.SAML.IdPMetadata)
		if err != nil {
			return err
		}
		for _, d := range idp.IDPSSODescriptors {
			for _, sso := range d.SingleSignOnServices {
				endpoint = sso.Location
			}
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return refused("the identity provider's login address %q is not a URL", endpoint)
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	host := net.JoinHostPort(u.Hostname(), port)
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", host)
	if err != nil {
		return &loginError{unreachable: true, msg: fmt.Sprintf("the identity provider (%s) cannot be reached from here: log in with a local account, or try again later", u.Host)}
	}
	conn.Close()
	return nil
}

// take removes and returns the flow id of orgID.
func (s *Service) take(id, orgID string) (flow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired()
	f, ok := s.flows[id]
	if !ok || id == "" {
		return f, refused("no login in progress in this browser (it expired or was already used): start again from the login page")
	}
	delete(s.flows, id)
	if f.orgID != orgID {
		return f, refused("the login was started for another organisation")
	}
	return f, nil
}

func (s *Service) dropExpired() {
	now := s.now()
	for id, f := range s.flows {
		if now.After(f.expires) {
			delete(s.flows, id)
		}
	}
}

func (s *Service) settings(ctx context.Context, orgID string) (storage.SSOSettings, error) {
	st, err := s.store.SSOSettings(ctx, orgID)
	if err != nil {
		return st, err
	}
	if !st.Enabled() {
		return st, refused("organisation %s has no single sign-on set up", orgID)
	}
	return st, nil
}

// provision maps id and hands it to the Provisioner.
func (s *Service) provision(ctx context.Context, st storage.SSOSettings, id Identity) (storage.User, error) {
	if id.Email == "" {
		return storage.User{}, refused("the identity provider sent no e-mail address for %q", id.Subject)
	}
	return s.prov.ProvisionSSO(ctx, st.OrgID, Map(st, id))
}

// Map applies the organisation's mapping to an identity: the default
// roles (the regular role when none are set), then every mapping of a
// group the person is in.
func Map(st storage.SSOSettings, id Identity) Provision {
	p := Provision{Email: strings.ToLower(strings.TrimSpace(id.Email)), Name: strings.TrimSpace(id.Name)}
	p.Roles = st.DefaultRoles
	if len(p.Roles) == 0 {
		p.Roles = []string{policy.RoleRegular}
	}
	p.Roles = slices.Clone(p.Roles)
	p.GovernedRoles = slices.Clone(p.Roles)
	for _, m := range st.Mapping {
		p.GovernedRoles = append(p.GovernedRoles, m.Roles...)
		p.GovernedTeams = append(p.GovernedTeams, m.Teams...)
		p.GovernedLabels = append(p.GovernedLabels, m.Labels...)
		if !slices.ContainsFunc(id.Groups, func(g string) bool { return strings.EqualFold(g, m.Group) }) {
			continue
		}
		p.Roles = append(p.Roles, m.Roles...)
		p.Teams = append(p.Teams, m.Teams...)
		p.Labels = append(p.Labels, m.Labels...)
	}
	for _, l := range []*[]string{&p.Roles, &p.Teams, &p.Labels, &p.GovernedRoles, &p.GovernedTeams, &p.GovernedLabels} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	return p
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// URLs of an organisation's endpoints, relative to the node's address.
func CallbackPath(orgID string) string { return "/sso/" + orgID + "/oidc/callback" }
func ACSPath(orgID string) string      { return "/sso/" + orgID + "/saml/acs" }
func MetadataPath(orgID string) string { return "/sso/" + orgID + "/saml/metadata" }
func SLOPath(orgID string) string      { return "/sso/" + orgID + "/saml/slo" }
