// Package org holds the use cases that change an organisation's data:
// logins and passwords, users, teams, labels, contacts, API tokens and the
// policy. Each validates its input, proposes one command through the
// replicated log (so it is applied on every node or not at all) and then
// writes the node's audit log.
//
// A Service is built from Deps, whose interfaces are declared here and
// hold only what the use cases call; the node passes its Raft node, its
// stores and its enforcer.
package org

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"time"

	"siteline/node/internal/usecase"
	"siteline/storage"
	"siteline/web"
)

// Proposer commits organisation changes through the replicated log.
type Proposer interface {
	// Propose returns once the command is applied on this node, or an
	// error: the store's refusal, storage.ErrFederationUnreachable when it
	// could not be committed, storage.ErrOutcomeUnknown when it was sent
	// and no answer came.
	Propose(ctx context.Context, cmd storage.Command) error
	// ReadBarrier makes this node's next reads linearizable.
	ReadBarrier(ctx context.Context) error
}

// Store is what the use cases read of the node's stores, and the one
// node-local write they make: ending a user's browser sessions.
type Store interface {
	User(ctx context.Context, id string) (storage.User, error)
	UserByEmail(ctx context.Context, orgID, email string) (storage.User, error)
	UserByLogin(ctx context.Context, email string) (storage.User, error)
	Users(ctx context.Context, orgID string) ([]storage.User, error)
	Roles(ctx context.Context, orgID string) ([]storage.Role, error)
	Team(ctx context.Context, id string) (storage.Team, error)
	Teams(ctx context.Context, orgID string) ([]storage.Team, error)
	TeamMembers(ctx context.Context, teamID string) ([]storage.TeamMembership, error)
	LabelGroups(ctx context.Context, orgID string) ([]storage.LabelGroup, error)
	Labels(ctx context.Context, orgID string) ([]storage.Label, error)
	HistorySettings(ctx context.Context, orgID string) (storage.HistorySettings, error)
	Contact(ctx context.Context, id string) (storage.Contact, error)
	Contacts(ctx context.Context, orgID string) ([]storage.Contact, error)
	Policy(ctx context.Context, orgID string) ([]storage.PolicyRule, error)
	PolicyVersions(ctx context.Context, orgID string) ([]storage.PolicyVersion, error)
	PolicyVersion(ctx context.Context, orgID, id string) (storage.PolicyVersion, error)
	Tokens(ctx context.Context, userID string) ([]storage.APIToken, error)
	OrgTokens(ctx context.Context, orgID string) ([]storage.APIToken, error)
	DeleteUserWebSessions(ctx context.Context, userID string) error
}

// Enforcer answers from the node's policy (policy.Enforcer), which follows
// the changes as the replicated log applies them.
type Enforcer interface {
	Check(orgID, userID, permission string) error
	Explain(orgID, userID, permission string) (bool, []string, error)
	Permissions(orgID, userID string) []string
	Roles(orgID, userID string) []string
	RoleAncestors(orgID, role string) []string
	RolePermissions(orgID, role string) []string
	TeamPermissions(orgID, teamID string) []string
	Rules(orgID string) []storage.PolicyRule
}

// Auditor appends an event to the node's audit log; it is on disk when
// Audit returns.
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, detail any) error
}

// Counter counts events (a prometheus.Counter).
type Counter interface{ Inc() }

// Deps is what a Service is built from. Proposer, Store, Enforcer and
// Audit are required.
type Deps struct {
	Proposer Proposer
	Store    Store
	Enforcer Enforcer
	Audit    Auditor
	// Hasher hashes passwords; NewHasher(DefaultCost, runtime.NumCPU())
	// when nil.
	Hasher *Hasher
	// FirstPassword is who must replace the password generated at the
	// organisation's creation; nil when nobody must.
	FirstPassword *FirstPassword
	// TokenDefaultTTL and TokenMaxTTL are tokens.default_ttl and
	// tokens.max_ttl.
	TokenDefaultTTL, TokenMaxTTL time.Duration
	// AuditFailures counts audit entries lost after their change was
	// committed; nil counts nothing.
	AuditFailures Counter
	// SSO reads the single sign-on settings and what provisioning needs;
	// nil leaves single sign-on off.
	SSO SSOStore
	// Logins keeps each user's latest login at this node (site data,
	// never proposed through the replicated log); nil keeps none.
	Logins storage.LoginRecorder
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives what goes wrong after a change was committed; slog's
	// default when nil.
	Log *slog.Logger
}

// Service implements web.Admin.
type Service struct {
	d Deps
}

var _ web.Admin = (*Service)(nil)

// New builds the service from d.
func New(d Deps) (*Service, error) {
	if d.Proposer == nil || d.Store == nil || d.Enforcer == nil || d.Audit == nil {
		return nil, errors.New("org: Deps needs a Proposer, a Store, an Enforcer and an Auditor")
	}
	if d.Hasher == nil {
		d.Hasher = NewHasher(DefaultCost, runtime.NumCPU())
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Service{d: d}, nil
}

// ReadBarrier makes the store's next reads linearizable.
func (s *Service) ReadBarrier(ctx context.Context) error {
	return userError(s.d.Proposer.ReadBarrier(ctx))
}

// entry is the audit event a change leaves.
type entry struct {
	action, target string
	detail         any
}

// commit proposes changes on behalf of a and then writes the audit entry.
// Once the change is committed it stands: an audit log that cannot be
// written is logged and counted, and the change is not reported as failed
// (the caller would retry a change already made).
func (s *Service) commit(ctx context.Context, a web.Actor, e entry, changes ...storage.Change) error {
	cmd := storage.Command{Changes: changes, At: s.d.Now().UTC(), ActorID: actorID(a)}
	if err := s.d.Proposer.Propose(ctx, cmd); err != nil {
		return userError(err)
	}
	if err := s.d.Audit.Audit(ctx, actorID(a), e.action, e.target, e.detail); err != nil {
		s.d.Log.Error("audit log not written: the change stands without its audit entry",
			"action", e.action, "target", e.target, "actor", actorID(a), "err", err)
		if s.d.AuditFailures != nil {
			s.d.AuditFailures.Inc()
		}
	}
	return nil
}

// actorID is who the records name for a.
func actorID(a web.Actor) string { return usecase.ActorID(a) }
