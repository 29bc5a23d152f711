package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
	"siteline/storage/historygen"
	"siteline/storage/storagetest"
)

// TestSessionSearch runs the session search's conformance suite, which
// storage/sqlite runs too, on PostgreSQL databases; the generated history
// is written by plain INSERTs (loader), as SQLite's bulk load writes it.
func TestSessionSearch(t *testing.T) {
	storagetest.SessionSearch(t, storagetest.SearchSuite{
		Open: func(t *testing.T) storagetest.SearchBackend {
			s, _ := openTestStoreWith(t, Options{Labels: labelList(storagetest.Labels)})
			return s
		},
		Generate: func(t *testing.T, cfg historygen.Config) storagetest.SearchBackend {
			s, _ := openTestStore(t)
			orgs, _ := historygen.Orgs(cfg)
			if _, err := historygen.Fill(context.Background(), loader{s}, orgs, cfg); err != nil {
				t.Fatal(err)
			}
			return s
		},
		CheckIndex: func(t *testing.T, s storagetest.SearchBackend) { checkSearchIndex(t, s.(*Store)) },
		Short:      testing.Short(),
	})
}

// checkSearchIndex fails t when a session's search document differs from
// the one its rows make now: a write the triggers missed.
func checkSearchIndex(t *testing.T, s *Store) {
	t.Helper()
	var stale []string
	rows, _ := s.pool.Query(context.Background(), `SELECT id FROM sessions WHERE search <> session_search_doc(id)`)
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Fatalf("the search documents of sessions %v are stale", stale)
	}
}

// loader writes generated sessions with their participants, events and
// labels in one transaction per batch, each session's goal key with it as
// the store writes it.
type loader struct{ s *Store }

func (l loader) LoadSessions(ctx context.Context, bundles []storage.SessionBundle) error {
	return pgx.BeginFunc(ctx, l.s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, x := range bundles {
			ss := x.Session
			b.Queue(`INSERT INTO sessions (id, org_id, site_id, kind, name, goal, goal_key, status, created_by, owner_id, team_id,
				outcome, notes, started_at, ended_at, solved_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
				ss.ID, ss.OrgID, ss.SiteID, ss.Kind, ss.Name, ss.Goal, storage.GoalKey(ss.Goal), ss.Status, ss.CreatedBy, ss.OwnerID, ss.TeamID,
				ss.Outcome, ss.Notes, nanos(ss.StartedAt), optNanos(ss.EndedAt), optNanos(ss.SolvedAt))
			for _, id := range ss.Labels {
				b.Queue(`INSERT INTO session_labels (session_id, label_id) VALUES ($1, $2)`, ss.ID, id)
			}
			for _, p := range x.Participants {
				b.Queue(`INSERT INTO session_participants (id, session_id, user_id, display_name, user_kind, device_kind,
					hidden, joined_at, left_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
					p.ID, p.SessionID, p.UserID, p.DisplayName, string(p.UserKind), p.DeviceKind, p.Hidden, nanos(p.JoinedAt), optNanos(p.LeftAt))
			}
			for _, ev := range x.Events {
				b.Queue(`INSERT INTO session_events (id, session_id, seq, at, kind, actor_id, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
					ev.ID, ev.SessionID, ev.Seq, nanos(ev.At), ev.Kind, ev.ActorID, string(ev.Payload))
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
}
