package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"siteline/storage"
)

// The functions of this file write one organisation record inside the
// caller's transaction. Apply and Restore both use them. A put inserts the
// record or replaces the one with the same primary key; it is an upsert
// (INSERT ... ON CONFLICT DO UPDATE), never INSERT OR REPLACE, which would
// delete the old row and cascade to its memberships and tokens. A put may
// not move a record to another organisation.

// required takes field, value pairs and names the first empty one.
func required(fieldValues ...string) error {
	for i := 0; i+1 < len(fieldValues); i += 2 {
		if fieldValues[i+1] == "" {
			return &storage.ValidationError{Field: fieldValues[i], Problem: "is required"}
		}
	}
	return nil
}

// orgOf returns the organisation of the record id in table, or ErrNotFound
// naming what. table is one of this file's constants, never input.
func orgOf(ctx context.Context, q querier, what, table, id string) (string, error) {
	var orgID string
	err := q.QueryRowContext(ctx, "SELECT org_id FROM "+table+" WHERE id = ?", id).Scan(&orgID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s %s: %w", what, id, storage.ErrNotFound)
	}
	return orgID, err
}

func requireOrg(ctx context.Context, q querier, orgID string) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM orgs WHERE id = ?", orgID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("org %s: %w", orgID, storage.ErrNotFound)
	}
	return err
}

// requireSameOrg checks that the record id of table exists and belongs to
// orgID.
func requireSameOrg(ctx context.Context, q querier, what, table, id, orgID string) error {
	got, err := orgOf(ctx, q, what, table, id)
	if err != nil {
		return err
	}
	if got != orgID {
		return &storage.ValidationError{Field: what + "_id", Problem: fmt.Sprintf("%s belongs to another organisation", id)}
	}
	return nil
}

// upsertScoped runs an upsert whose DO UPDATE is guarded by
// "WHERE t.org_id = excluded.org_id" and turns "no row written" into a
// conflict: the id exists in another organisation.
func upsertScoped(ctx context.Context, q querier, what, id, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return domainError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s %s exists in another organisation: %w", what, id, storage.ErrConflict)
	}
	return nil
}

func exec(ctx context.Context, q querier, query string, args ...any) error {
	_, err := q.ExecContext(ctx, query, args...)
	return domainError(err)
}

func putOrg(ctx context.Context, q querier, o storage.Org) error {
	if err := required("org.id", o.ID); err != nil {
		return err
	}
	return exec(ctx, q, `INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, created_at = excluded.created_at`,
		o.ID, o.Name, nanos(o.CreatedAt))
}

func putSite(ctx context.Context, q querier, s storage.Site) error {
	if err := required("site.id", s.ID, "site.org_id", s.OrgID); err != nil {
		return err
	}
	if err := requireOrg(ctx, q, s.OrgID); err != nil {
		return err
	}
	return upsertScoped(ctx, q, "site", s.ID, `INSERT INTO sites (id, org_id, name, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, created_at = excluded.created_at
		WHERE sites.org_id = excluded.org_id`,
		s.ID, s.OrgID, s.Name, nanos(s.CreatedAt))
}

// putUser stores u, e-mail lower-cased; an empty Kind means a regular user.
// u.PasswordHash is stored as given (empty: no password login).
func putUser(ctx context.Context, q querier, u storage.User) error {
	if err := required("user.id", u.ID, "user.org_id", u.OrgID, "user.email", u.Email); err != nil {
		return err
	}
	if err := requireOrg(ctx, q, u.OrgID); err != nil {
		return err
	}
	if u.Kind == "" {
		u.Kind = storage.UserRegular
	}
	u.Email = strings.ToLower(u.Email)
	var other string
	err := q.QueryRowContext(ctx, "SELECT id FROM users WHERE org_id = ? AND email = ? AND id <> ?", u.OrgID, u.Email, u.ID).Scan(&other)
	if err == nil {
		return fmt.Errorf("e-mail %s is already used by user %s in org %s: %w", u.Email, other, u.OrgID, storage.ErrConflict)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return upsertScoped(ctx, q, "user", u.ID, `INSERT INTO users
		(id, org_id, email, name, kind, password_hash, active, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name,
			kind = excluded.kind, password_hash = excluded.password_hash, active = excluded.active,
			created_at = excluded.created_at, updated_at = excluded.updated_at
		WHERE users.org_id = excluded.org_id`,
		u.ID, u.OrgID, u.Email, u.Name, string(u.Kind), u.PasswordHash, u.Active,
		nanos(u.CreatedAt), nanos(u.UpdatedAt))
}

func deleteUser(ctx context.Context, q querier, id string) error {
	// Memberships, tokens and user labels go by cascade; contacts that
	// pointed at the user keep their entry with user_id NULL.
	return exec(ctx, q, "DELETE FROM users WHERE id = ?", id)
}

func putRole(ctx context.Context, q querier, r storage.Role) error {
	if err := required("role.org_id", r.OrgID, "role.name", r.Name); err != nil {
		return err
	}
	if err := requireOrg(ctx, q, r.OrgID); err != nil {
		return err
	}
	return exec(ctx, q, `INSERT INTO roles (org_id, name, description, builtin) VALUES (?, ?, ?, ?)
		ON CONFLICT (org_id, name) DO UPDATE SET description = excluded.description, builtin = excluded.builtin`,
		r.OrgID, r.Name, r.Description, r.Builtin)
}

// deleteRole removes the role record only; its grants are policy rules,
// which the policy layer replaces in the same command.
func deleteRole(ctx context.Context, q querier, orgID, name string) error {
	return exec(ctx, q, "DELETE FROM roles WHERE org_id = ? AND name = ?", orgID, name)
}

func putTeam(ctx context.Context, q querier, t storage.Team) error {
	if err := required("team.id", t.ID, "team.org_id", t.OrgID); err != nil {
		return err
	}
	if err := requireOrg(ctx, q, t.OrgID); err != nil {
		return err
	}
	// Names are unique in an organisation, checked here as the change is
	// applied (the same on every node) and not only before it is
	// proposed: a retried create whose first attempt committed unseen
	// then gets a conflict instead of a second team.
	var other string
	err := q.QueryRowContext(ctx, "SELECT id FROM teams WHERE org_id = ? AND lower(name) = lower(?) AND id <> ?", t.OrgID, t.Name, t.ID).Scan(&other)
	if err == nil {
		return fmt.Errorf("a team named %q already exists (%s): %w", t.Name, other, storage.ErrConflict)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return upsertScoped(ctx, q, "team", t.ID, `INSERT INTO teams (id, org_id, name, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, created_at = excluded.created_at
		WHERE teams.org_id = excluded.org_id`,
		t.ID, t.OrgID, t.Name, nanos(t.CreatedAt))
}

func deleteTeam(ctx context.Context, q querier, id string) error {
	return exec(ctx, q, "DELETE FROM teams WHERE id = ?", id) // memberships by cascade
}

// setTeamMember places a user of the team's organisation in the team.
func setTeamMember(ctx context.Context, q querier, m storage.TeamMembership) error {
	if err := required("membership.team_id", m.TeamID, "membership.user_id", m.UserID); err != nil {
		return err
	}
	teamOrg, err := orgOf(ctx, q, "team", "teams", m.TeamID)
	if err != nil {
		return err
	}
	if err := requireSameOrg(ctx, q, "user", "users", m.UserID, teamOrg); err != nil {
		return err
	}
	if m.Role == "" {
		m.Role = storage.TeamMember
	}
	return exec(ctx, q, `INSERT INTO team_memberships (team_id, user_id, role) VALUES (?, ?, ?)
		ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role`,
		m.TeamID, m.UserID, string(m.Role))
}

func deleteTeamMember(ctx context.Context, q querier, m storage.TeamMembership) error {
	return exec(ctx, q, "DELETE FROM team_memberships WHERE team_id = ? AND user_id = ?", m.TeamID, m.UserID)
}

func putLabelGroup(ctx context.Context, q querier, g storage.LabelGroup) error {
	if err := required("label_group.id", g.ID, "label_group.org_id", g.OrgID); err != nil {
		return err
	}
	if err := requireOrg(ctx, q, g.OrgID); err != nil {
		return err
	}
	return upsertScoped(ctx, q, "label group", g.ID, `INSERT INTO label_groups (id, org_id, name, color) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, color = excluded.color
		WHERE label_groups.org_id = excluded.org_id`,
		g.ID, g.OrgID, g.Name, g.Color)
}

func deleteLabelGroup(ctx context.Context, q querier, id string) error {
	return exec(ctx, q, "DELETE FROM label_groups WHERE id = ?", id) // labels by cascade
}

func putLabel(ctx context.Context, q querier, l storage.Label) error {
	if err := required("label.id", l.ID, "label.org_id", l.OrgID, "label.group_id", l.GroupID); err != nil {
		return err
	}
	if err := requireSameOrg(ctx, q, "label_group", "label_groups", l.GroupID, l.OrgID); err != nil {
		return err
	}
	return upsertScoped(ctx, q, "label", l.ID, `INSERT INTO labels (id, org_id, group_id, name) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET group_id = excluded.group_id, name = excluded.name
		WHERE labels.org_id = excluded.org_id`,
		l.ID, l.OrgID, l.GroupID, l.Name)
}

func deleteLabel(ctx context.Context, q querier, id string) error {
	return exec(ctx, q, "DELETE FROM labels WHERE id = ?", id)
}

func putContact(ctx context.Context, q querier, c storage.Contact) error {
	if err := required("contact.id", c.ID, "contact.org_id", c.OrgID); err != nil {
		return err
	}
	if err := requireOrg(ctx, q, c.OrgID); err != nil {
		return err
	}
	if c.UserID != "" {
		if err := requireSameOrg(ctx, q, "user", "users", c.UserID, c.OrgID); err != nil {
			return err
		}
	}
	return upsertScoped(ctx, q, "contact", c.ID, `INSERT INTO contacts
		(id, org_id, user_id, name, email, phone, company, notes, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name,
			email = excluded.email, phone = excluded.phone, company = excluded.company,
			notes = excluded.notes, created_at = excluded.created_at
		WHERE contacts.org_id = excluded.org_id`,
		c.ID, c.OrgID, nullString(c.UserID), c.Name, c.Email, c.Phone, c.Company, c.Notes, nanos(c.CreatedAt))
}

func deleteContact(ctx context.Context, q querier, id string) error {
	return exec(ctx, q, "DELETE FROM contacts WHERE id = ?", id)
}

// putToken stores t with t.Hash as given, which must be set.
func putToken(ctx context.Context, q querier, t storage.APIToken) error {
	if err := required("token.id", t.ID, "token.org_id", t.OrgID, "token.user_id", t.UserID); err != nil {
		return err
	}
	if len(t.Hash) == 0 {
		return &storage.ValidationError{Field: "token_hash", Problem: "is required"}
	}
	if err := requireSameOrg(ctx, q, "user", "users", t.UserID, t.OrgID); err != nil {
		return err
	}
	switch t.Scope {
	case "":
		t.Scope = storage.ScopeFull // proposed by a node of an earlier release
	case storage.ScopeRead, storage.ScopeFull:
	default:
		return &storage.ValidationError{Field: "token.scope", Problem: fmt.Sprintf("%q is not one of read, full", t.Scope)}
	}
	return upsertScoped(ctx, q, "token", t.ID, `INSERT INTO api_tokens
		(id, org_id, user_id, name, scope, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name, scope = excluded.scope,
			hash = excluded.hash, created_at = excluded.created_at, expires_at = excluded.expires_at
		WHERE api_tokens.org_id = excluded.org_id`,
		t.ID, t.OrgID, t.UserID, t.Name, t.Scope, t.Hash, nanos(t.CreatedAt), optNanos(t.ExpiresAt))
}

func deleteToken(ctx context.Context, q querier, id string) error {
	return exec(ctx, q, "DELETE FROM api_tokens WHERE id = ?", id)
}
