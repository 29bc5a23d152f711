package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"siteline/storage"
)

// The storage.OrgReader methods. They read through the reader pool; the
// query* functions take a querier so Snapshot can run them in its own
// transaction. Lists are sorted by name (case-insensitively, then by id so
// the order is total); an empty list is empty, not nil.

// one returns the single record of a query, or ErrNotFound naming what was
// looked up.
func one[T any](list []T, err error, what string) (T, error) {
	var zero T
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	if len(list) == 0 {
		return zero, fmt.Errorf("%s: %w", what, storage.ErrNotFound)
	}
	return list[0], nil
}

// many wraps the error of a list query with what was listed.
func many[T any](list []T, err error, what string) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return list, nil
}

// Org returns one organisation.
func (s *Store) Org(ctx context.Context, id string) (storage.Org, error) {
	list, err := queryOrgs(ctx, s.read, "WHERE id = ?", id)
	return one(list, err, "org "+id)
}

// Orgs lists every organisation.
func (s *Store) Orgs(ctx context.Context) ([]storage.Org, error) {
	list, err := queryOrgs(ctx, s.read, "")
	return many(list, err, "list orgs")
}

func queryOrgs(ctx context.Context, q querier, where string, args ...any) ([]storage.Org, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.Org, error) {
		var o storage.Org
		return o, r.Scan(&o.ID, &o.Name, timeDest{&o.CreatedAt})
	}, "SELECT id, name, created_at FROM orgs "+where+" ORDER BY name COLLATE NOCASE, id", args...)
}

// Site returns one site.
func (s *Store) Site(ctx context.Context, id string) (storage.Site, error) {
	list, err := querySites(ctx, s.read, "WHERE id = ?", id)
	return one(list, err, "site "+id)
}

// Sites lists the sites of an organisation.
func (s *Store) Sites(ctx context.Context, orgID string) ([]storage.Site, error) {
	list, err := querySites(ctx, s.read, "WHERE org_id = ?", orgID)
	return many(list, err, "list sites of org "+orgID)
}

func querySites(ctx context.Context, q querier, where string, args ...any) ([]storage.Site, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.Site, error) {
		var s storage.Site
		return s, r.Scan(&s.ID, &s.OrgID, &s.Name, timeDest{&s.CreatedAt})
	}, "SELECT id, org_id, name, created_at FROM sites "+where+" ORDER BY name COLLATE NOCASE, id", args...)
}

// User returns one user, password hash included.
func (s *Store) User(ctx context.Context, id string) (storage.User, error) {
	list, err := queryUsers(ctx, s.read, "WHERE id = ?", id)
	return one(list, err, "user "+id)
}

// UserByEmail returns the user of an organisation with an e-mail address,
// compared lower-case.
func (s *Store) UserByEmail(ctx context.Context, orgID, email string) (storage.User, error) {
	email = strings.ToLower(email)
	list, err := queryUsers(ctx, s.read, "WHERE org_id = ? AND email = ?", orgID, email)
	return one(list, err, "user "+email+" in org "+orgID)
}

// UserByLogin returns the user with an e-mail address in any organisation.
// When the address belongs to users of several organisations the login is
// ambiguous and the error wraps storage.ErrConflict.
func (s *Store) UserByLogin(ctx context.Context, email string) (storage.User, error) {
	email = strings.ToLower(email)
	what := "user login " + email
	users, err := queryUsers(ctx, s.read, "WHERE email = ?", email)
	if len(users) > 1 {
		return storage.User{}, fmt.Errorf("%s: %d organisations have it: %w", what, len(users), storage.ErrConflict)
	}
	return one(users, err, what)
}

// Users lists the users of an organisation by name, then e-mail.
func (s *Store) Users(ctx context.Context, orgID string) ([]storage.User, error) {
	list, err := queryUsers(ctx, s.read, "WHERE org_id = ?", orgID)
	return many(list, err, "list users of org "+orgID)
}

func queryUsers(ctx context.Context, q querier, where string, args ...any) ([]storage.User, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.User, error) {
		var u storage.User
		var kind string
		err := r.Scan(&u.ID, &u.OrgID, &u.Email, &u.Name, &kind, &u.PasswordHash, &u.Active,
			timeDest{&u.CreatedAt}, timeDest{&u.UpdatedAt})
		u.Kind = storage.UserKind(kind)
		return u, err
	}, `SELECT id, org_id, email, name, kind, password_hash, active, created_at, updated_at
		FROM users `+where+` ORDER BY name COLLATE NOCASE, email, id`, args...)
}

// Roles lists the roles of an organisation.
func (s *Store) Roles(ctx context.Context, orgID string) ([]storage.Role, error) {
	list, err := queryRoles(ctx, s.read, "WHERE org_id = ?", orgID)
	return many(list, err, "list roles of org "+orgID)
}

func queryRoles(ctx context.Context, q querier, where string, args ...any) ([]storage.Role, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.Role, error) {
		var role storage.Role
		return role, r.Scan(&role.OrgID, &role.Name, &role.Description, &role.Builtin)
	}, "SELECT org_id, name, description, builtin FROM roles "+where+" ORDER BY name COLLATE NOCASE, org_id, name", args...)
}

// Team returns one team.
func (s *Store) Team(ctx context.Context, id string) (storage.Team, error) {
	list, err := queryTeams(ctx, s.read, "WHERE id = ?", id)
	return one(list, err, "team "+id)
}

// Teams lists the teams of an organisation.
func (s *Store) Teams(ctx context.Context, orgID string) ([]storage.Team, error) {
	list, err := queryTeams(ctx, s.read, "WHERE org_id = ?", orgID)
	return many(list, err, "list teams of org "+orgID)
}

func queryTeams(ctx context.Context, q querier, where string, args ...any) ([]storage.Team, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.Team, error) {
		var t storage.Team
		return t, r.Scan(&t.ID, &t.OrgID, &t.Name, timeDest{&t.CreatedAt})
	}, "SELECT id, org_id, name, created_at FROM teams "+where+" ORDER BY name COLLATE NOCASE, id", args...)
}

// TeamMembers lists the members of a team, by the members' names.
func (s *Store) TeamMembers(ctx context.Context, teamID string) ([]storage.TeamMembership, error) {
	list, err := queryMemberships(ctx, s.read, "WHERE m.team_id = ?", teamID)
	return many(list, err, "list members of team "+teamID)
}

// UserTeams lists the teams of a user, by the teams' names.
func (s *Store) UserTeams(ctx context.Context, userID string) ([]storage.TeamMembership, error) {
	list, err := queryMemberships(ctx, s.read, "WHERE m.user_id = ?", userID)
	return many(list, err, "list teams of user "+userID)
}

func queryMemberships(ctx context.Context, q querier, where string, args ...any) ([]storage.TeamMembership, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.TeamMembership, error) {
		var m storage.TeamMembership
		var role string
		err := r.Scan(&m.TeamID, &m.UserID, &role)
		m.Role = storage.TeamRole(role)
		return m, err
	}, `SELECT m.team_id, m.user_id, m.role FROM team_memberships m
		JOIN teams t ON t.id = m.team_id JOIN users u ON u.id = m.user_id `+where+`
		ORDER BY t.name COLLATE NOCASE, t.id, u.name COLLATE NOCASE, u.email, u.id`, args...)
}

// LabelGroups lists the label groups of an organisation.
func (s *Store) LabelGroups(ctx context.Context, orgID string) ([]storage.LabelGroup, error) {
	list, err := queryLabelGroups(ctx, s.read, "WHERE org_id = ?", orgID)
	return many(list, err, "list label groups of org "+orgID)
}

func queryLabelGroups(ctx context.Context, q querier, where string, args ...any) ([]storage.LabelGroup, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.LabelGroup, error) {
		var g storage.LabelGroup
		return g, r.Scan(&g.ID, &g.OrgID, &g.Name, &g.Color)
	}, "SELECT id, org_id, name, color FROM label_groups "+where+" ORDER BY name COLLATE NOCASE, id", args...)
}

// Labels lists the labels of an organisation.
func (s *Store) Labels(ctx context.Context, orgID string) ([]storage.Label, error) {
	list, err := queryLabels(ctx, s.read, "WHERE org_id = ?", orgID)
	return many(list, err, "list labels of org "+orgID)
}

func queryLabels(ctx context.Context, q querier, where string, args ...any) ([]storage.Label, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.Label, error) {
		var l storage.Label
		return l, r.Scan(&l.ID, &l.OrgID, &l.GroupID, &l.Name)
	}, "SELECT id, org_id, group_id, name FROM labels "+where+" ORDER BY name COLLATE NOCASE, id", args...)
}

// Contact returns one phonebook entry.
func (s *Store) Contact(ctx context.Context, id string) (storage.Contact, error) {
	list, err := queryContacts(ctx, s.read, "WHERE id = ?", id)
	return one(list, err, "contact "+id)
}

// Contacts lists the phonebook of an organisation.
func (s *Store) Contacts(ctx context.Context, orgID string) ([]storage.Contact, error) {
	list, err := queryContacts(ctx, s.read, "WHERE org_id = ?", orgID)
	return many(list, err, "list contacts of org "+orgID)
}

func queryContacts(ctx context.Context, q querier, where string, args ...any) ([]storage.Contact, error) {
	return collect(ctx, q, scanContact, `SELECT id, org_id, user_id, name, email, phone, company, notes, created_at
		FROM contacts `+where+` ORDER BY name COLLATE NOCASE, id`, args...)
}

// Policy returns the policy rules of an organisation, or of all of them
// when orgID is "".
func (s *Store) Policy(ctx context.Context, orgID string) ([]storage.PolicyRule, error) {
	list, err := queryPolicy(ctx, s.read, orgID)
	return many(list, err, "list policy of org "+orgID)
}

// TokenByHash returns the API token whose secret hashes to hash.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (storage.APIToken, error) {
	list, err := queryTokens(ctx, s.read, "WHERE hash = ?", hash)
	return one(list, err, "api token by hash")
}

// Tokens lists the API tokens of a user, hashes included.
func (s *Store) Tokens(ctx context.Context, userID string) ([]storage.APIToken, error) {
	list, err := queryTokens(ctx, s.read, "WHERE user_id = ?", userID)
	return many(list, err, "list api tokens of user "+userID)
}

// OrgTokens lists the API tokens of an organisation, hashes included.
func (s *Store) OrgTokens(ctx context.Context, orgID string) ([]storage.APIToken, error) {
	list, err := queryTokens(ctx, s.read, "WHERE org_id = ?", orgID)
	return many(list, err, "list api tokens of org "+orgID)
}

func queryTokens(ctx context.Context, q querier, where string, args ...any) ([]storage.APIToken, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.APIToken, error) {
		var t storage.APIToken
		return t, r.Scan(&t.ID, &t.OrgID, &t.UserID, &t.Name, &t.Scope, &t.Hash,
			timeDest{&t.CreatedAt}, optTimeDest{&t.ExpiresAt})
	}, `SELECT id, org_id, user_id, name, scope, hash, created_at, expires_at
		FROM api_tokens `+where+` ORDER BY name COLLATE NOCASE, id`, args...)
}
