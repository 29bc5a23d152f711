package sqlite

import (
	"testing"

	"siteline/storage"
	"siteline/storage/storagetest"
)

// TestSessionStore runs the session store's conformance suite, which
// storage/postgres runs too, on a SQLite file.
func TestSessionStore(t *testing.T) {
	storagetest.SessionStore(t, func(t *testing.T) storagetest.SessionBackend {
		s, _ := openTestStore(t)
		return s
	})
}

// TestHistoryOutbox runs the history outbox's conformance suite, which
// storage/postgres runs too, on a SQLite file.
func TestHistoryOutbox(t *testing.T) {
	storagetest.HistoryOutbox(t, func(t *testing.T) storagetest.OutboxBackend {
		s, _ := openTestStore(t)
		return s
	})
}

// TestAudit runs the audit log's conformance suite, which
// storage/postgres runs too, on a SQLite file.
func TestAudit(t *testing.T) {
	storagetest.Audit(t, func(t *testing.T) storagetest.AuditBackend {
		s, _ := openTestStore(t)
		return s
	})
}

// TestSessionFields runs the session field setters' conformance suite,
// which storage/postgres runs too, on a SQLite file whose organisation
// data holds storagetest.Labels.
func TestSessionFields(t *testing.T) {
	storagetest.SessionFields(t, func(t *testing.T) storagetest.FieldsBackend {
		s, _ := openTestStore(t)
		mustApply(t, s, 1, labelsCommand(storagetest.Labels))
		return s
	})
}

// labelsCommand puts labels with their organisations and groups.
func labelsCommand(labels []storage.Label) storage.Command {
	var orgs, groups, puts []storage.Change
	seen := map[string]bool{}
	for _, l := range labels {
		if !seen[l.OrgID] {
			seen[l.OrgID] = true
			orgs = append(orgs, storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: l.OrgID, Name: "Org " + l.OrgID, CreatedAt: t0}})
		}
		if !seen[l.GroupID] {
			seen[l.GroupID] = true
			groups = append(groups, storage.Change{Op: storage.OpPutLabelGroup,
				LabelGroup: &storage.LabelGroup{ID: l.GroupID, OrgID: l.OrgID, Name: "Group " + l.GroupID, Color: "#ff0000"}})
		}
		puts = append(puts, storage.Change{Op: storage.OpPutLabel, Label: &l})
	}
	return cmd(append(append(orgs, groups...), puts...)...)
}

// TestHistoryApplier runs the history applier's conformance suite, which
// storage/postgres runs too, on SQLite files whose organisation
// data holds storagetest.Labels.
func TestHistoryApplier(t *testing.T) {
	storagetest.HistoryApplier(t, func(t *testing.T) storagetest.ApplierBackend {
		s, _ := openTestStore(t)
		mustApply(t, s, 1, labelsCommand(storagetest.Labels))
		return s
	})
}

// usersCommand puts users; their organisations must be there.
func usersCommand(users []storage.User) storage.Command {
	var puts []storage.Change
	for _, u := range users {
		puts = append(puts, storage.Change{Op: storage.OpPutUser, User: &u})
	}
	return cmd(puts...)
}

// TestMedia runs the session media's conformance suite, which
// storage/postgres runs too, on SQLite files whose organisation data
// holds storagetest.Labels.
func TestMedia(t *testing.T) {
	storagetest.Media(t, func(t *testing.T) storagetest.MediaBackend {
		s, _ := openTestStore(t)
		mustApply(t, s, 1, labelsCommand(storagetest.Labels))
		return s
	})
}

// TestLastCalls runs the last calls' conformance suite, which
// storage/postgres runs too, on a SQLite file whose organisation data
// holds storagetest.Users.
func TestLastCalls(t *testing.T) {
	storagetest.LastCalls(t, func(t *testing.T) storagetest.PeopleBackend {
		s, _ := openTestStore(t)
		mustApply(t, s, 1, labelsCommand(storagetest.Labels))
		mustApply(t, s, 2, usersCommand(storagetest.Users))
		return s
	})
}
