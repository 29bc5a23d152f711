// Package storage holds Siteline's record types, the repository interfaces
// the rest of the node depends on, and the domain errors every layer shares.
// It imports nothing of the project; implementations live in sub-packages
// (storage/sqlite today, storage/postgres later).
//
// Two kinds of data live here. Organisation data (orgs, sites, users, roles,
// teams, policies, labels, contacts, API tokens) is written only by the
// replicated state machine through OrgStore.Apply, so every node holds the
// same copy. Site data (sessions, participants, events, media, recordings,
// service reports, invitations, audit events) is born at one node and
// written there directly through SiteStore.
package storage

import "time"

// Org is an organisation: the unit of permissions (a casbin domain).
type Org struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Site is a plant or headquarters location that runs one or more nodes.
type Site struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// UserKind tells registered users from the three kinds of guests.
type UserKind string

const (
	UserRegular      UserKind = "regular"
	UserGuestApp     UserKind = "guest_app"     // guest in the mobile app
	UserGuestMobile  UserKind = "guest_mobile"  // guest in a mobile web browser
	UserGuestDesktop UserKind = "guest_desktop" // guest in a desktop web browser
)

// User is a member of an organisation. Roles are not stored on the user:
// they are casbin grouping rules in the policy (see PolicyRule).
type User struct {
	ID           string    `json:"id"`
	OrgID        string    `json:"org_id"`
	Email        string    `json:"email"` // unique per organisation, lower case
	Name         string    `json:"name"`
	Kind         UserKind  `json:"kind"`
	PasswordHash string    `json:"-"` // argon2id PHC string; empty means no password login
	Active       bool      `json:"active"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Role is a named set of permissions within an organisation. Its grants are
// policy rules; this record holds what the UI shows about it.
type Role struct {
	OrgID       string `json:"org_id"`
	Name        string `json:"name"` // "administrator", "regular", ...
	Description string `json:"description"`
	Builtin     bool   `json:"builtin"`
}

// TeamRole is a user's role within one team (SPEC.md section 4).
type TeamRole string

const (
	TeamMember  TeamRole = "member"
	TeamLead    TeamRole = "lead"
	TeamManager TeamRole = "manager"
)

// Team groups users for supervision.
type Team struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// TeamMembership places a user in a team with a role.
type TeamMembership struct {
	TeamID string   `json:"team_id"`
	UserID string   `json:"user_id"`
	Role   TeamRole `json:"role"`
}

// LabelGroup groups labels; every label of a group shows in its colour.
type LabelGroup struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	Name  string `json:"name"`
	Color string `json:"color"` // #rrggbb
}

// Label tags sessions and users.
type Label struct {
	ID      string `json:"id"`
	OrgID   string `json:"org_id"`
	GroupID string `json:"group_id"`
	Name    string `json:"name"`
}

// Contact is an entry of the organisation's phonebook. UserID links the
// contact to a registered user when it is one.
type Contact struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	UserID    string    `json:"user_id,omitempty"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	Phone     string    `json:"phone,omitempty"`
	Company   string    `json:"company,omitempty"`
	Notes     string    `json:"notes,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// PolicyRule is one casbin policy line scoped to an organisation.
// PType is "p" (subject, domain, object) or "g" (user, role, domain).
type PolicyRule struct {
	OrgID string   `json:"org_id"`
	PType string   `json:"ptype"`
	V     []string `json:"v"`
}

// PolicyVersion is the whole policy of an organisation as it stood after
// one change: who made the change, when, and why. Versions are
// organisation data (replicated through Raft), so every node can show and
// restore the history. Lists leave Rules empty and give Lines only.
type PolicyVersion struct {
	ID      string       `json:"id"`
	OrgID   string       `json:"org_id"`
	At      time.Time    `json:"at"`
	ActorID string       `json:"actor_id"`
	Note    string       `json:"note"`
	Lines   int          `json:"lines"`
	Rules   []PolicyRule `json:"rules,omitempty"`
}

// APIToken authenticates the CLI and automation. Only the SHA-256 of the
// secret is kept.
type APIToken struct {
	ID        string     `json:"id"`
	OrgID     string     `json:"org_id"`
	UserID    string     `json:"user_id"`
	Name      string     `json:"name"`
	Scope     TokenScope `json:"scope"`
	Hash      []byte     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// TokenScope narrows what an API token may do within its user's
// permissions.
type TokenScope string

// Token scopes, from least to most.
const (
	// ScopeRead allows GET and HEAD requests only: no change, no
	// WebSocket, no token minting.
	ScopeRead TokenScope = "read"
	// ScopeFull allows everything the user may do, including minting
	// tokens that expire no later than itself.
	ScopeFull TokenScope = "full"
)

// AuditEvent records who did what, when, to what.
type AuditEvent struct {
	ID      string    `json:"id"`
	OrgID   string    `json:"org_id"`
	SiteID  string    `json:"site_id"`
	At      time.Time `json:"at"`
	ActorID string    `json:"actor_id"` // user id, or "system", or "cli", or a service ("scim")
	Action  string    `json:"action"`   // "user.create", "policy.grant", ...
	Target  string    `json:"target"`   // id of the thing acted on
	Detail  string    `json:"detail"`   // JSON: before/after or parameters
}

// WebSession is a logged-in browser session. It is local to the node that
// issued it and never replicated.
type WebSession struct {
	ID        string    `json:"-"` // SHA-256 hex of the cookie value
	UserID    string    `json:"user_id"`
	OrgID     string    `json:"org_id"`
	CSRFToken string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	SeenAt    time.Time `json:"seen_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UserAgent string    `json:"user_agent"`
	Address   string    `json:"address"`
}
