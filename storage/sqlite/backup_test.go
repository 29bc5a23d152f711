package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"siteline/storage"
)

// TestBackupCopyAndRestartedOutbox: VACUUM INTO copies the store while
// it stays open; the copy's outbox, restarted, sends again the records
// above the acknowledged mark and numbers its next ones past the gap.
func TestBackupCopyAndRestartedOutbox(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	audit := func(s *Store, i int) {
		t.Helper()
		if err := s.AppendAudit(ctx, storage.AuditEvent{ID: fmt.Sprintf("a%d", i), OrgID: "o1", At: t0, ActorID: "u1", Action: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 6; i++ {
		audit(s, i)
	}
	if err := s.MarkHistoryPublished(ctx, 5, t0); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := s.BackupTo(ctx, copyPath); err != nil {
		t.Fatal(err)
	}
	if err := s.BackupTo(ctx, copyPath); err == nil {
		t.Fatal("a backup over an existing file was not refused")
	}
	audit(s, 7) // after the copy: not in it

	c, err := Open(ctx, copyPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, err := c.RestartHistoryOutbox(ctx, 2) // headquarters acknowledged 1 and 2
	if err != nil || n != 3 {
		t.Fatalf("restart = %d, %v; want 3 records (3, 4, 5) to go again", n, err)
	}
	rows, err := c.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, r := range rows {
		seqs = append(seqs, r.Seq)
	}
	if fmt.Sprint(seqs) != "[3 4 5 6]" {
		t.Fatalf("pending after the restart = %v, want [3 4 5 6]", seqs)
	}
	audit(c, 8)
	last, unpublished, unacked, err := c.HistoryCounts(ctx, 2)
	if err != nil || last != 7+RestoredOutboxGap || unpublished != 5 || unacked != 5 {
		t.Fatalf("counts = last %d, unpublished %d, unacked %d (%v); want %d, 5, 5", last, unpublished, unacked, err, 7+RestoredOutboxGap)
	}
}
