package sqlite

import (
	"testing"

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
