package org

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/policy"
	"siteline/storage"
	"siteline/storage/sqlite"
	"siteline/web"
)

// cheap is an argon2id cost fit for tests; nodes use DefaultCost.
var cheap = Cost{Time: 1, Memory: 64, Threads: 1}

// raftLog is a single-node replicated log: it applies each command to a real
// SQLite store and keeps a real enforcer in step, as the node's Raft state
// machine does.
type raftLog struct {
	store *sqlite.Store
	authz *policy.Enforcer

	mu    sync.Mutex
	index uint64
	// before runs ahead of the next proposed command (a concurrent change
	// made elsewhere).
	before func()
	// refuse, when set, is returned instead of committing.
	refuse error
	// barrier is what ReadBarrier returns.
	barrier error
}

func (l *raftLog) Propose(ctx context.Context, cmd storage.Command) error {
	l.mu.Lock()
	before := l.before
	l.before = nil
	refuse := l.refuse
	l.mu.Unlock()
	if before != nil {
		before()
	}
	if refuse != nil {
		return refuse
	}
	return l.apply(ctx, cmd)
}

func (l *raftLog) apply(ctx context.Context, cmd storage.Command) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.index++
	if err := l.store.Apply(ctx, l.index, cmd); err != nil {
		return err
	}
	for _, ch := range cmd.Changes {
		var err error
		switch ch.Op {
		case storage.OpAddPolicy:
			err = l.authz.Add(ch.Rules)
		case storage.OpRemovePolicy:
			err = l.authz.Remove(ch.Rules)
		case storage.OpReplacePolicy:
			err = l.authz.Replace(ch.OrgID, ch.Rules)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (l *raftLog) ReadBarrier(context.Context) error { return l.barrier }

// audits records the audit log in memory, or fails when fail is set.
type audits struct {
	mu     sync.Mutex
	fail   error
	events []audited
}

type audited struct {
	actor, action, target string
	detail                any
}

func (a *audits) Audit(_ context.Context, actor, action, target string, detail any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.events = append(a.events, audited{actor, action, target, detail})
	return nil
}

func (a *audits) last() audited {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.events) == 0 {
		return audited{}
	}
	return a.events[len(a.events)-1]
}

func (a *audits) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.events)
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) Inc() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
}

// fixture is a Service over a fresh store holding one organisation with
// its built-in roles and default policy, and an administrator.
type fixture struct {
	t      *testing.T
	svc    *Service
	log    *raftLog
	audits *audits
	lost   *counter
	out    *testutil.Log
	dir    string
	first  *FirstPassword

	orgID string
	admin web.Actor // the administrator, a user
	local web.Actor // the node's local operator
}

const adminPassword = "the administrator's password"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	out := testutil.NewLog(t)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "siteline.db"), out.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	authz, err := policy.NewEnforcer(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, log: &raftLog{store: store, authz: authz}, audits: &audits{}, lost: &counter{}, out: out, dir: dir}
	f.first = NewFirstPassword(store, filepath.Join(dir, "initial-admin-password"), out.Logger())
	f.svc, err = New(Deps{
		Proposer: f.log, Store: store, Enforcer: authz, Audit: f.audits,
		Hasher: NewHasher(cheap, 2), FirstPassword: f.first,
		TokenDefaultTTL: 24 * time.Hour, TokenMaxTTL: 90 * 24 * time.Hour,
		AuditFailures: f.lost, Log: out.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.orgID = "org1"
	adminID := f.addOrg(f.orgID, "root@plant.example")
	f.admin = web.Actor{UserID: adminID, OrgID: f.orgID, Email: "root@plant.example"}
	f.local = web.Actor{Local: true, OrgID: f.orgID}
	return f
}

// addOrg creates an organisation with the built-in roles, the default
// policy and one administrator, straight through the log, and returns the
// administrator's id.
func (f *fixture) addOrg(orgID, adminEmail string) string {
	f.t.Helper()
	hash, err := f.svc.d.Hasher.Hash(adminPassword)
	if err != nil {
		f.t.Fatal(err)
	}
	now := time.Now().UTC()
	admin := storage.User{ID: orgID + "-admin", OrgID: orgID, Email: adminEmail, Name: "Root",
		Kind: storage.UserRegular, Active: true, CreatedAt: now, UpdatedAt: now}
	changes := []storage.Change{{Op: storage.OpPutOrg, Org: &storage.Org{ID: orgID, Name: orgID, CreatedAt: now}}}
	for _, r := range policy.DefaultRoles(orgID) {
		changes = append(changes, storage.Change{Op: storage.OpPutRole, Role: &r})
	}
	rules := append(policy.DefaultPolicy(orgID), policy.Assign(orgID, admin.ID, policy.RoleAdministrator))
	changes = append(changes,
		storage.Change{Op: storage.OpReplacePolicy, OrgID: orgID, Rules: rules},
		storage.Change{Op: storage.OpPutUser, User: &admin, PasswordHash: hash})
	if err := f.log.apply(context.Background(), storage.Command{Changes: changes, At: now, ActorID: "system"}); err != nil {
		f.t.Fatalf("create organisation %s: %v", orgID, err)
	}
	return admin.ID
}

// user creates a user of the actor's organisation with roles.
func (f *fixture) user(a web.Actor, email string, roles ...string) storage.User {
	f.t.Helper()
	u, err := f.svc.CreateUser(context.Background(), a, web.UserInput{Email: email, Password: "a password of " + email, Roles: roles})
	if err != nil {
		f.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// as is the actor for user u.
func as(u storage.User) web.Actor {
	return web.Actor{UserID: u.ID, OrgID: u.OrgID, Email: u.Email}
}

func wantForbidden(t *testing.T, what string, err error, permission string) {
	t.Helper()
	var fe *storage.ForbiddenError
	if !errors.As(err, &fe) {
		t.Errorf("%s: err = %v, want a refusal naming %s", what, err, permission)
		return
	}
	if fe.Permission != permission {
		t.Errorf("%s: refusal names %q, want %q (%v)", what, fe.Permission, permission, err)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
