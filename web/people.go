package web

import (
	"context"
	"io"
	"time"
)

// People applies labels to users and imports members and contacts in bulk
// from CSV. An import is all or nothing: it is checked whole first, the
// first bad line named (*storage.ValidationError on field "csv", its
// problem starting "line N:"), and then proposed as one command.
type People interface {
	// SetUserLabels replaces the labels applied to a user.
	SetUserLabels(ctx context.Context, a Actor, userID string, labelIDs []string) error
	// ImportMembers invites every line's address with the line's roles,
	// teams and labels (MemberCSVColumns), each getting an activation
	// e-mail as an invitation from the users page does.
	ImportMembers(ctx context.Context, a Actor, r io.Reader) (ImportResult, error)
	// ImportContacts adds every line to the phonebook (ContactCSVColumns).
	ImportContacts(ctx context.Context, a Actor, r io.Reader) (ImportResult, error)
}

// Activity reads, for the members list, the labels applied to each user,
// each user's latest login known at this node and the last session each
// took part in (storage.PeopleReader).
type Activity interface {
	UserLabels(ctx context.Context, orgID string) (map[string][]string, error)
	LastLogins(ctx context.Context, orgID string) (map[string]time.Time, error)
	LastCalls(ctx context.Context, orgID string) (map[string]time.Time, error)
}

// The columns of the CSV files imported and exported. An import's first
// line names its columns, in any order; email is required for members and
// name for contacts, the others may be left out. Lists (roles, teams,
// labels) are separated by ";"; teams and labels are given by name, a
// label as "group/label" when its name is in several groups.
var (
	MemberCSVColumns  = []string{"email", "roles", "teams", "labels"}
	ContactCSVColumns = []string{"name", "email", "phone", "company", "notes"}
)

// MaxImportBytes bounds an uploaded CSV file.
const MaxImportBytes = 1 << 20

// ImportResult is what an import did.
type ImportResult struct {
	Imported int `json:"imported"`
	// Invitations are the members invited, each with MailError set when
	// its e-mail could not be sent (it can be resent).
	Invitations []MemberInvitationOut `json:"invitations,omitempty"`
}
