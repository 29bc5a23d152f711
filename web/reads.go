package web

import (
	"context"

	"siteline/storage"
)

// OrgReader is the one way pages and the API read organisation data. Every
// method takes the organisation the request acts in (Actor.OrgID), and a
// record of another organisation is not found (storage.ErrNotFound), the
// same answer as an unknown id: no handler checks the organisation of what
// it read, so none can forget to. The node passes its store's scoped
// reads; a list that a page shows with something of each of its items
// (teams with their members, a user's teams with their names, the start
// page's counts) is read in one call.
type OrgReader interface {
	Org(ctx context.Context, orgID string) (storage.Org, error)
	Sites(ctx context.Context, orgID string) ([]storage.Site, error)
	Site(ctx context.Context, orgID, id string) (storage.Site, error)

	User(ctx context.Context, orgID, id string) (storage.User, error)
	Users(ctx context.Context, orgID string) ([]storage.User, error)
	Roles(ctx context.Context, orgID string) ([]storage.Role, error)

	Team(ctx context.Context, orgID, id string) (storage.Team, error)
	Teams(ctx context.Context, orgID string) ([]storage.Team, error)
	TeamWithMembers(ctx context.Context, orgID, id string) (storage.TeamWithMembers, error)
	TeamsWithMembers(ctx context.Context, orgID string) ([]storage.TeamWithMembers, error)
	// UserTeams lists a user's memberships with their teams' names.
	UserTeams(ctx context.Context, orgID, userID string) ([]storage.UserTeam, error)

	LabelGroups(ctx context.Context, orgID string) ([]storage.LabelGroup, error)
	Labels(ctx context.Context, orgID string) ([]storage.Label, error)
	// HistorySettings are the outcomes and report fields, the defaults
	// when the organisation never set its own.
	HistorySettings(ctx context.Context, orgID string) (storage.HistorySettings, error)

	Contact(ctx context.Context, orgID, id string) (storage.Contact, error)
	Contacts(ctx context.Context, orgID string) ([]storage.Contact, error)
	// SearchContacts returns one page of the phonebook of q.OrgID; a bad
	// page size, offset or cursor is a *storage.ValidationError.
	SearchContacts(ctx context.Context, q storage.ContactQuery) (storage.ContactPage, error)

	Policy(ctx context.Context, orgID string) ([]storage.PolicyRule, error)
	PolicyVersions(ctx context.Context, orgID string) ([]storage.PolicyVersion, error)
	PolicyVersion(ctx context.Context, orgID, id string) (storage.PolicyVersion, error)

	// Tokens lists one user's API tokens; OrgTokens every user's.
	Tokens(ctx context.Context, orgID, userID string) ([]storage.APIToken, error)
	OrgTokens(ctx context.Context, orgID string) ([]storage.APIToken, error)

	// Counts counts the organisation's records for the start page.
	Counts(ctx context.Context, orgID string) (storage.OrgCounts, error)
}
