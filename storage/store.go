package storage

import (
	"context"
	"io"
	"time"
)

// OrgReader reads the local copy of organisation data. Reads never need the
// network: a plant cut off from the federation answers them from its copy.
type OrgReader interface {
	Org(ctx context.Context, id string) (Org, error)
	Orgs(ctx context.Context) ([]Org, error)
	Site(ctx context.Context, id string) (Site, error)
	Sites(ctx context.Context, orgID string) ([]Site, error)

	User(ctx context.Context, id string) (User, error)
	UserByEmail(ctx context.Context, orgID, email string) (User, error)
	// UserByLogin finds an active or inactive user by e-mail in any
	// organisation; logins carry no organisation.
	UserByLogin(ctx context.Context, email string) (User, error)
	Users(ctx context.Context, orgID string) ([]User, error)

	Roles(ctx context.Context, orgID string) ([]Role, error)

	Team(ctx context.Context, id string) (Team, error)
	Teams(ctx context.Context, orgID string) ([]Team, error)
	TeamMembers(ctx context.Context, teamID string) ([]TeamMembership, error)
	UserTeams(ctx context.Context, userID string) ([]TeamMembership, error)

	LabelGroups(ctx context.Context, orgID string) ([]LabelGroup, error)
	Labels(ctx context.Context, orgID string) ([]Label, error)

	Contact(ctx context.Context, id string) (Contact, error)
	Contacts(ctx context.Context, orgID string) ([]Contact, error)

	// Policy returns every policy rule; orgID "" means all organisations.
	Policy(ctx context.Context, orgID string) ([]PolicyRule, error)

	// PolicyVersions lists the recorded versions of an organisation's
	// policy, newest first, without their rules.
	PolicyVersions(ctx context.Context, orgID string) ([]PolicyVersion, error)
	// PolicyVersion returns one version with its rules.
	PolicyVersion(ctx context.Context, orgID, id string) (PolicyVersion, error)

	TokenByHash(ctx context.Context, hash []byte) (APIToken, error)
	Tokens(ctx context.Context, userID string) ([]APIToken, error)
	// OrgTokens lists the API tokens of every user of an organisation.
	OrgTokens(ctx context.Context, orgID string) ([]APIToken, error)
}

// OrgStore is the organisation data as the replicated state machine sees
// it: Apply is its only write path.
type OrgStore interface {
	OrgReader

	// Apply applies a command at a Raft log index in one transaction and
	// records the index with it. A command at an index at or below
	// AppliedIndex is skipped, so replaying the log after a restart is
	// harmless. A command that fails validation or a constraint changes
	// nothing and returns the error; the index still advances, so every
	// node reaches the same state.
	Apply(ctx context.Context, index uint64, cmd Command) error
	// AppliedIndex is the index of the last command applied.
	AppliedIndex(ctx context.Context) (uint64, error)
	// Snapshot writes every organisation record and the applied index to w.
	Snapshot(ctx context.Context, w io.Writer) error
	// Restore replaces every organisation record with what Snapshot wrote.
	Restore(ctx context.Context, r io.Reader) error
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	OrgID  string
	Action string // prefix, such as "user."
	Limit  int
	Before time.Time // zero means now
}

// SiteStore holds data born at this node. Every write is on disk before it
// returns.
type SiteStore interface {
	SessionStore
	RingStore

	AppendAudit(ctx context.Context, e AuditEvent) error
	Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	CreateWebSession(ctx context.Context, s WebSession) error
	WebSession(ctx context.Context, id string) (WebSession, error)
	TouchWebSession(ctx context.Context, id string, seen, expires time.Time) error
	DeleteWebSession(ctx context.Context, id string) error
	// DeleteUserWebSessions ends every session of a user (deactivation,
	// password change).
	DeleteUserWebSessions(ctx context.Context, userID string) error
	DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int, error)

	// Meta is a small key/value table for node-local facts (node id,
	// first-start markers).
	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
}

// Store is a complete backend.
type Store interface {
	OrgStore
	SiteStore
	// Ping checks the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}
