package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"siteline/storage"
)

// Scoped reads one organisation's data at a time, for the pages and the
// API: every method takes the organisation, and its SQL keeps to it
// (WHERE org_id = ?), so the id of another organisation's record is not
// found (storage.ErrNotFound), just as an unknown id is not. Lists are
// ordered as the Store's are.
type Scoped struct{ s *Store }

// Scoped returns the store's organisation-scoped reads.
func (s *Store) Scoped() Scoped { return Scoped{s: s} }

// Org returns the organisation itself.
func (v Scoped) Org(ctx context.Context, orgID string) (storage.Org, error) {
	return v.s.Org(ctx, orgID)
}

// Sites lists the organisation's sites.
func (v Scoped) Sites(ctx context.Context, orgID string) ([]storage.Site, error) {
	return v.s.Sites(ctx, orgID)
}

// Site returns one of the organisation's sites.
func (v Scoped) Site(ctx context.Context, orgID, id string) (storage.Site, error) {
	list, err := querySites(ctx, v.s.read, "WHERE org_id = ? AND id = ?", orgID, id)
	return one(list, err, "site "+id)
}

// User returns one of the organisation's users, password hash included.
func (v Scoped) User(ctx context.Context, orgID, id string) (storage.User, error) {
	list, err := queryUsers(ctx, v.s.read, "WHERE org_id = ? AND id = ?", orgID, id)
	return one(list, err, "user "+id)
}

// Users lists the organisation's users.
func (v Scoped) Users(ctx context.Context, orgID string) ([]storage.User, error) {
	return v.s.Users(ctx, orgID)
}

// Roles lists the organisation's roles.
func (v Scoped) Roles(ctx context.Context, orgID string) ([]storage.Role, error) {
	return v.s.Roles(ctx, orgID)
}

// Team returns one of the organisation's teams.
func (v Scoped) Team(ctx context.Context, orgID, id string) (storage.Team, error) {
	list, err := queryTeams(ctx, v.s.read, "WHERE org_id = ? AND id = ?", orgID, id)
	return one(list, err, "team "+id)
}

// Teams lists the organisation's teams.
func (v Scoped) Teams(ctx context.Context, orgID string) ([]storage.Team, error) {
	return v.s.Teams(ctx, orgID)
}

// TeamWithMembers returns one of the organisation's teams with its
// members, in one query.
func (v Scoped) TeamWithMembers(ctx context.Context, orgID, id string) (storage.TeamWithMembers, error) {
	list, err := queryTeamsWithMembers(ctx, v.s.read, "AND t.id = ?", orgID, id)
	return one(list, err, "team "+id)
}

// TeamsWithMembers lists the organisation's teams, each with its members,
// in one query.
func (v Scoped) TeamsWithMembers(ctx context.Context, orgID string) ([]storage.TeamWithMembers, error) {
	list, err := queryTeamsWithMembers(ctx, v.s.read, "", orgID)
	return many(list, err, "list teams with members of org "+orgID)
}

// queryTeamsWithMembers reads teams of an organisation (and what more
// selects) joined to their memberships, one row per membership or one for
// a team with none, and folds the rows into teams.
func queryTeamsWithMembers(ctx context.Context, q querier, and string, orgID string, args ...any) ([]storage.TeamWithMembers, error) {
	type row struct {
		team   storage.Team
		member *storage.TeamMembership
	}
	rows, err := collect(ctx, q, func(r *sql.Rows) (row, error) {
		var x row
		var user, role sql.NullString
		if err := r.Scan(&x.team.ID, &x.team.OrgID, &x.team.Name, timeDest{&x.team.CreatedAt}, &user, &role); err != nil {
			return x, err
		}
		if user.Valid {
			x.member = &storage.TeamMembership{TeamID: x.team.ID, UserID: user.String, Role: storage.TeamRole(role.String)}
		}
		return x, nil
	}, `SELECT t.id, t.org_id, t.name, t.created_at, m.user_id, m.role FROM teams t
		LEFT JOIN team_memberships m ON m.team_id = t.id LEFT JOIN users u ON u.id = m.user_id
		WHERE t.org_id = ? `+and+`
		ORDER BY t.name COLLATE NOCASE, t.id, u.name COLLATE NOCASE, u.email, u.id`, append([]any{orgID}, args...)...)
	if err != nil {
		return nil, err
	}
	out := make([]storage.TeamWithMembers, 0)
	for _, x := range rows {
		if n := len(out); n == 0 || out[n-1].ID != x.team.ID {
			out = append(out, storage.TeamWithMembers{Team: x.team, Members: []storage.TeamMembership{}})
		}
		if x.member != nil {
			last := &out[len(out)-1]
			last.Members = append(last.Members, *x.member)
		}
	}
	return out, nil
}

// UserTeams lists the memberships of one of the organisation's users, with
// their teams' names, by the teams' names; a user of another organisation
// has none.
func (v Scoped) UserTeams(ctx context.Context, orgID, userID string) ([]storage.UserTeam, error) {
	list, err := collect(ctx, v.s.read, func(r *sql.Rows) (storage.UserTeam, error) {
		var m storage.UserTeam
		var role string
		err := r.Scan(&m.TeamID, &m.UserID, &role, &m.TeamName)
		m.Role = storage.TeamRole(role)
		return m, err
	}, `SELECT m.team_id, m.user_id, m.role, t.name FROM team_memberships m
		JOIN teams t ON t.id = m.team_id JOIN users u ON u.id = m.user_id
		WHERE u.org_id = ? AND t.org_id = ? AND m.user_id = ?
		ORDER BY t.name COLLATE NOCASE, t.id`, orgID, orgID, userID)
	return many(list, err, "list teams of user "+userID)
}

// LabelGroups lists the organisation's label groups.
func (v Scoped) LabelGroups(ctx context.Context, orgID string) ([]storage.LabelGroup, error) {
	return v.s.LabelGroups(ctx, orgID)
}

// Labels lists the organisation's labels.
func (v Scoped) Labels(ctx context.Context, orgID string) ([]storage.Label, error) {
	return v.s.Labels(ctx, orgID)
}

// Contact returns one entry of the organisation's phonebook.
func (v Scoped) Contact(ctx context.Context, orgID, id string) (storage.Contact, error) {
	list, err := queryContacts(ctx, v.s.read, "WHERE org_id = ? AND id = ?", orgID, id)
	return one(list, err, "contact "+id)
}

// Contacts lists the organisation's phonebook.
func (v Scoped) Contacts(ctx context.Context, orgID string) ([]storage.Contact, error) {
	return v.s.Contacts(ctx, orgID)
}

// SearchContacts returns one page of the organisation's phonebook
// (q.OrgID) matching q.
func (v Scoped) SearchContacts(ctx context.Context, q storage.ContactQuery) (storage.ContactPage, error) {
	return v.s.SearchContacts(ctx, q)
}

// Policy returns the organisation's policy rules.
func (v Scoped) Policy(ctx context.Context, orgID string) ([]storage.PolicyRule, error) {
	list, err := collect(ctx, v.s.read, scanPolicyRule, `SELECT org_id, ptype, v0, v1, v2, v3, v4, v5
		FROM policy_rules WHERE org_id = ? ORDER BY org_id, ptype, v0, v1, v2, v3, v4, v5`, orgID)
	return many(list, err, "list policy of org "+orgID)
}

// HistorySettings returns the organisation's outcomes and report fields,
// the defaults when it never set its own.
func (v Scoped) HistorySettings(ctx context.Context, orgID string) (storage.HistorySettings, error) {
	return v.s.HistorySettings(ctx, orgID)
}

// PolicyVersions lists the versions of the organisation's policy, newest
// first, without their rules.
func (v Scoped) PolicyVersions(ctx context.Context, orgID string) ([]storage.PolicyVersion, error) {
	return v.s.PolicyVersions(ctx, orgID)
}

// PolicyVersion returns one version of the organisation's policy with its
// rules.
func (v Scoped) PolicyVersion(ctx context.Context, orgID, id string) (storage.PolicyVersion, error) {
	return v.s.PolicyVersion(ctx, orgID, id)
}

// Tokens lists the API tokens of one of the organisation's users, hashes
// included.
func (v Scoped) Tokens(ctx context.Context, orgID, userID string) ([]storage.APIToken, error) {
	list, err := queryTokens(ctx, v.s.read, "WHERE org_id = ? AND user_id = ?", orgID, userID)
	return many(list, err, "list api tokens of user "+userID)
}

// OrgTokens lists the API tokens of every user of the organisation.
func (v Scoped) OrgTokens(ctx context.Context, orgID string) ([]storage.APIToken, error) {
	return v.s.OrgTokens(ctx, orgID)
}

// Counts counts the organisation's users, teams, contacts and labels in
// one query.
func (v Scoped) Counts(ctx context.Context, orgID string) (storage.OrgCounts, error) {
	var c storage.OrgCounts
	err := v.s.read.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM users WHERE org_id = ?1),
		(SELECT COUNT(*) FROM users WHERE org_id = ?1 AND active),
		(SELECT COUNT(*) FROM teams WHERE org_id = ?1),
		(SELECT COUNT(*) FROM contacts WHERE org_id = ?1),
		(SELECT COUNT(*) FROM label_groups WHERE org_id = ?1),
		(SELECT COUNT(*) FROM labels WHERE org_id = ?1)`, orgID).
		Scan(&c.Users, &c.ActiveUsers, &c.Teams, &c.Contacts, &c.LabelGroups, &c.Labels)
	if err != nil {
		return c, fmt.Errorf("count records of org %s: %w", orgID, err)
	}
	return c, nil
}
