package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/storagetest"
)

// TestSessionStore runs the session store's conformance suite, which
// storage/sqlite runs too, on a PostgreSQL database.
func TestSessionStore(t *testing.T) {
	storagetest.SessionStore(t, func(t *testing.T) storagetest.SessionBackend {
		s, _ := openTestStore(t)
		return s
	})
}

// TestHistoryOutbox runs the history outbox's conformance suite, which
// storage/sqlite runs too, on a PostgreSQL database.
func TestHistoryOutbox(t *testing.T) {
	storagetest.HistoryOutbox(t, func(t *testing.T) storagetest.OutboxBackend {
		s, _ := openTestStore(t)
		return s
	})
}

// TestAudit runs the audit log's conformance suite, which
// storage/sqlite runs too, on a PostgreSQL database.
func TestAudit(t *testing.T) {
	storagetest.Audit(t, func(t *testing.T) storagetest.AuditBackend {
		s, _ := openTestStore(t)
		return s
	})
}

// TestSessionFields runs the session field setters' conformance suite,
// which storage/sqlite runs too, on a PostgreSQL database, with
// storagetest.Labels as the organisation data's labels.
func TestSessionFields(t *testing.T) {
	storagetest.SessionFields(t, func(t *testing.T) storagetest.FieldsBackend {
		s, _ := openTestStoreWith(t, Options{Labels: labelList(storagetest.Labels)})
		return s
	})
}

// labelList is organisation data's labels, as the node's SQLite store
// would list them.
type labelList []storage.Label

func (l labelList) Labels(_ context.Context, orgID string) ([]storage.Label, error) {
	var out []storage.Label
	for _, label := range l {
		if label.OrgID == orgID {
			out = append(out, label)
		}
	}
	return out, nil
}

// failingLabels is organisation data that cannot be read.
type failingLabels struct{}

func (failingLabels) Labels(context.Context, string) ([]storage.Label, error) {
	return nil, errors.New("org store closed")
}

// TestSessionLabelsNeedOrgData: without a way to read the organisation's
// labels, or when reading them fails, setting labels fails without
// changing anything, with an error that is not storage.ErrInvalid (the
// change is not at fault, so the history applier will retry it);
// clearing labels needs no check.
func TestSessionLabelsNeedOrgData(t *testing.T) {
	ctx := context.Background()
	for name, labels := range map[string]OrgLabels{"none": nil, "failing": failingLabels{}} {
		t.Run(name, func(t *testing.T) {
			s, _ := openTestStoreWith(t, Options{Labels: labels})
			if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: time.Unix(0, 1)}); err != nil {
				t.Fatal(err)
			}
			v := storage.Version{At: time.Unix(0, 2), Origin: "a"}
			ok, err := s.SetSessionLabels(ctx, "c1", []string{"l1"}, v)
			want := map[string]string{"none": "opened without Options.Labels", "failing": "org store closed"}[name]
			if ok || err == nil || errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), want) {
				t.Errorf("set labels = %v, %v; want an error naming %q, not invalid input", ok, err, want)
			}
			if ss, err := s.SessionSummary(ctx, "o1", "c1"); err != nil || len(ss.Labels) != 0 {
				t.Errorf("labels after the failure: %+v %v", ss.Labels, err)
			}
			if ok, err := s.SetSessionLabels(ctx, "c1", nil, v); err != nil || !ok {
				t.Errorf("clear labels = %v, %v", ok, err)
			}
		})
	}
}

// TestHistoryApplier runs the history applier's conformance suite, which
// storage/sqlite runs too, on PostgreSQL databases, with
// storagetest.Labels as the organisation data's labels.
func TestHistoryApplier(t *testing.T) {
	storagetest.HistoryApplier(t, func(t *testing.T) storagetest.ApplierBackend {
		s, _ := openTestStoreWith(t, Options{Labels: labelList(storagetest.Labels)})
		return s
	})
}

// TestServiceReports runs the service reports' conformance suite, which
// storage/sqlite runs too, on PostgreSQL databases.
func TestServiceReports(t *testing.T) {
	storagetest.ServiceReports(t, func(t *testing.T) storagetest.ReportBackend {
		s, _ := openTestStore(t)
		return s
	})
}

// TestReportSearch runs the reports' search conformance suite, which
// storage/sqlite runs too, on a PostgreSQL database.
func TestReportSearch(t *testing.T) {
	storagetest.ReportSearch(t, func(t *testing.T) storagetest.ReportSearchBackend {
		s, _ := openTestStore(t)
		return s
	})
}

// TestMedia runs the session media's conformance suite, which
// storage/sqlite runs too, on PostgreSQL databases.
func TestMedia(t *testing.T) {
	storagetest.Media(t, func(t *testing.T) storagetest.MediaBackend {
		s, _ := openTestStoreWith(t, Options{Labels: labelList(storagetest.Labels)})
		return s
	})
}

// TestLastCalls runs the last calls' conformance suite, which
// storage/sqlite runs too, on a PostgreSQL database, with
// storagetest.Users as the organisation data's users.
func TestLastCalls(t *testing.T) {
	storagetest.LastCalls(t, func(t *testing.T) storagetest.PeopleBackend {
		s, _ := openTestStoreWith(t, Options{Users: userList(storagetest.Users)})
		return s
	})
}

// userList is organisation data's users, as the node's SQLite store
// would list them.
type userList []storage.User

func (l userList) Users(_ context.Context, orgID string) ([]storage.User, error) {
	var out []storage.User
	for _, u := range l {
		if u.OrgID == orgID {
			out = append(out, u)
		}
	}
	return out, nil
}

// TestLastCallsNeedOrgData: without a way to list an organisation's users
// LastCalls fails, saying why, rather than answering nothing.
func TestLastCallsNeedOrgData(t *testing.T) {
	s, _ := openTestStore(t)
	if calls, err := s.LastCalls(context.Background(), "o1"); err == nil || !strings.Contains(err.Error(), "Options.Users") {
		t.Errorf("LastCalls = %v, %v; want an error naming Options.Users", calls, err)
	}
}
