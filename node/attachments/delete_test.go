package attachments

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"siteline/cluster/history"
	"siteline/internal/testutil"
	"siteline/policy"
	"siteline/storage"
	"siteline/storage/blob"
	"siteline/web"
)

func isStatus(err error, code int) bool {
	var e *web.Error
	return errors.As(err, &e) && e.Status == code
}

func TestDeleteMedia(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m1 := f.upload(t, member, file("manual.txt", "the same manual"))
	m2 := f.upload(t, member, file("again.txt", "the same manual"))
	if m1.BlobKey != m2.BlobKey {
		t.Fatal("the same bytes under two keys")
	}
	_, pendingBefore, _, _ := f.store.HistoryCounts(ctx, 0)

	// Refusals change nothing.
	var fe *storage.ForbiddenError
	if _, err := f.svc.DeleteMedia(ctx, member, m1.ID); !errors.As(err, &fe) || fe.Permission != policy.DeleteMedia {
		t.Errorf("deletion without the permission = %v, want 403 naming %s", err, policy.DeleteMedia)
	}
	if _, err := f.svc.DeleteMedia(ctx, guest, m1.ID); !errors.As(err, &fe) || fe.Permission != policy.DeleteMedia {
		t.Errorf("deletion by a guest = %v, want 403 naming %s", err, policy.DeleteMedia)
	}
	if _, err := f.svc.DeleteMedia(ctx, nobody, m1.ID); !errors.As(err, &fe) || fe.Permission != policy.SeeAllCallLogs {
		t.Errorf("deletion in a session one may not read = %v, want 403 naming %s", err, policy.SeeAllCallLogs)
	}
	for who, a := range map[string]web.Actor{"unknown id": cleaner, "another organisation": alien} {
		id := m1.ID
		if who == "unknown id" {
			id = "nope"
		}
		if _, err := f.svc.DeleteMedia(ctx, a, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: deletion = %v, want not found", who, err)
		}
	}
	if _, pending, _, _ := f.store.HistoryCounts(ctx, 0); pending != pendingBefore {
		t.Fatalf("refusals wrote %d history records", pending-pendingBefore)
	}

	d, err := f.svc.DeleteMedia(ctx, cleaner, m1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != m1.ID || d.By != cleaner.UserID || d.ByName != "Cleo" || d.SHA256 != m1.BlobKey || d.Kind != storage.MediaFile {
		t.Errorf("deletion = %+v", d)
	}
	if !f.blobs.Has(m1.BlobKey) {
		t.Error("the bytes went though m2 still has them")
	}
	if _, _, err := f.svc.OpenMedia(ctx, member, m1.ID); !isStatus(err, 410) || !strings.Contains(err.Error(), "deleted by u-cleaner") {
		t.Errorf("open after the deletion = %v, want 410 naming who", err)
	}
	// Someone who may not read the session learns nothing more.
	if _, _, err := f.svc.OpenMedia(ctx, alien, m1.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("open of a deleted media of another organisation = %v, want not found", err)
	}
	if _, err := f.svc.DeleteMedia(ctx, cleaner, m1.ID); !isStatus(err, 410) {
		t.Errorf("second deletion = %v, want 410", err)
	}
	if list, _ := f.svc.SessionMedia(ctx, member, "c1"); len(list) != 1 || list[0].ID != m2.ID {
		t.Errorf("media after the deletion = %+v", list)
	}
	detail, err := f.svc.SessionDetail(ctx, cleaner, "c1")
	if err != nil || len(detail.Deleted) != 1 || detail.Deleted[0].ID != m1.ID || !detail.CanDelete {
		t.Errorf("detail for the deleter = %+v, %v", detail, err)
	}
	if detail, _ := f.svc.SessionDetail(ctx, member, "c1"); detail.CanDelete {
		t.Error("the session page offers deletion without the permission")
	}
	audit, _ := f.store.Audit(ctx, storage.AuditFilter{OrgID: "o1", Action: AuditMediaDelete})
	if len(audit) != 1 || audit[0].Target != m1.ID || audit[0].ActorID != cleaner.UserID || audit[0].SiteID != "s1" {
		t.Errorf("audit = %+v", audit)
	}
	evs, _ := f.store.SessionEvents(ctx, "c1")
	if last := evs[len(evs)-1]; last.Kind != storage.EventMediaDeleted || !strings.Contains(string(last.Payload), m1.ID) {
		t.Errorf("last event = %+v", last)
	}

	// The last row over the bytes: they go at once.
	if _, err := f.svc.DeleteMedia(ctx, local, m2.ID); err != nil {
		t.Fatal(err)
	}
	if f.blobs.Has(m1.BlobKey) {
		t.Error("the bytes stayed after their last row was deleted")
	}
	if pending, _ := f.store.PendingBlobDeletions(ctx, 10); len(pending) != 0 {
		t.Errorf("deletions left to the sweeper = %+v", pending)
	}
}

func TestDeleteRecording(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, err := f.blobs.Put(strings.NewReader("webm"), 0)
	if err != nil {
		t.Fatal(err)
	}
	r := storage.Recording{ID: "r1", SessionID: "c1", OrgID: "o1", Name: "c1.webm", BlobKey: b.Key, SHA256: b.Key,
		ContentType: "video/webm", Size: b.Size, StartedAt: t0}
	if err := f.store.AddRecording(ctx, r, storage.SessionEvent{ID: "e-r1", SessionID: "c1", At: t0, Kind: storage.EventRecording}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteRecording(ctx, member, "r1"); !errors.As(err, new(*storage.ForbiddenError)) {
		t.Errorf("deletion without the permission = %v", err)
	}
	d, err := f.svc.DeleteRecording(ctx, cleaner, "r1")
	if err != nil || d.What != storage.DeletedRecording {
		t.Fatalf("deletion = %+v, %v", d, err)
	}
	if f.blobs.Has(b.Key) {
		t.Error("the recording's bytes stayed")
	}
	if _, _, err := f.svc.OpenRecording(ctx, member, "r1"); !isStatus(err, 410) {
		t.Errorf("open after the deletion = %v, want 410", err)
	}
	if _, err := f.svc.DeleteRecording(ctx, cleaner, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deletion of an unknown recording = %v", err)
	}
}

// forwarded is the store as headquarters sees it: media rows kept at a
// plant.
type forwarded struct{ Store }

func (s forwarded) Media(ctx context.Context, id string) (storage.Media, error) {
	m, err := s.Store.Media(ctx, id)
	m.Origin = "node-plant"
	return m, err
}

func TestDeleteMediaOnlyWhereItIsKept(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.upload(t, member, file("a.txt", "kept at the plant"))
	svc := New(Deps{Store: forwarded{f.store}, Blobs: f.blobs, Open: opener{f.blobs}, Calls: f.calls, Now: time.Now,
		Authz: authz{cleaner.UserID: {policy.SeeAllCallLogs, policy.DeleteMedia}}})
	_, err := svc.DeleteMedia(ctx, cleaner, m.ID)
	if !isStatus(err, 409) || !strings.Contains(err.Error(), "site s1") || !strings.Contains(err.Error(), "node-plant") {
		t.Fatalf("deletion away from the site = %v, want 409 naming the site and node", err)
	}
	if got, _ := f.store.Media(ctx, m.ID); got.DeletedAt != nil || !f.blobs.Has(m.BlobKey) {
		t.Error("a refused deletion deleted")
	}
}

// failingBlobs fails every removal.
type failingBlobs struct{ *blob.FS }

func (failingBlobs) Remove(string, func(string) (bool, error)) (bool, error) {
	return false, errors.New("disk busy")
}

func TestSweeper(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// A deletion whose removal failed is left to the sweeper.
	svc := New(Deps{Store: f.store, Blobs: failingBlobs{f.blobs}, Open: opener{f.blobs}, Calls: f.calls, Now: time.Now,
		Authz: authz{cleaner.UserID: {policy.SeeAllCallLogs, policy.DeleteMedia}}, MaxUpload: 1 << 10})
	deleted := f.upload(t, member, file("gone.txt", "deleted bytes"))
	if _, err := svc.DeleteMedia(ctx, cleaner, deleted.ID); err != nil {
		t.Fatalf("a deletion whose removal failed = %v; the deletion stands", err)
	}
	if !f.blobs.Has(deleted.BlobKey) {
		t.Fatal("failing removal removed")
	}

	live := f.upload(t, member, file("live.txt", "live bytes"))
	orphan, _ := f.blobs.Put(strings.NewReader("nobody's"), 0)
	fresh, _ := f.blobs.Put(strings.NewReader("row coming"), 0)
	held, release, _ := f.blobs.PutHeld(strings.NewReader("row being written"), 0)
	defer release()
	long := time.Now().Add(-2 * time.Hour)
	for _, k := range []string{live.BlobKey, orphan.Key, held.Key} {
		if err := os.Chtimes(f.blobs.Path(k), long, long); err != nil {
			t.Fatal(err)
		}
	}

	notify := make(chan struct{}, 1)
	sw := &Sweeper{Store: f.store, Blobs: f.blobs, Notify: notify, Every: time.Hour, Grace: time.Hour}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { sw.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	testutil.Eventually(t, 5*time.Second, "the sweeper's first pass", func() bool {
		return !f.blobs.Has(deleted.BlobKey) && !f.blobs.Has(orphan.Key)
	})
	for what, key := range map[string]string{"a live row's": live.BlobKey, "a fresh orphan": fresh.Key, "a held blob": held.Key} {
		if !f.blobs.Has(key) {
			t.Errorf("the sweep removed %s bytes", what)
		}
	}
	if pending, _ := f.store.PendingBlobDeletions(ctx, 10); len(pending) != 0 {
		t.Errorf("deletions left = %+v", pending)
	}

	// A deletion applied later wakes it.
	if _, err := svc.DeleteMedia(ctx, cleaner, live.ID); err != nil {
		t.Fatal(err)
	}
	notify <- struct{}{}
	testutil.Eventually(t, 5*time.Second, "the deleted bytes to go on notice", func() bool { return !f.blobs.Has(live.BlobKey) })
}

// The bytes of a media that could not be opened get the answer of why: a
// site that no longer keeps them (deleted there, the deletion on its way)
// is 410, a site out of reach 503, other bytes than recorded 502.
func TestMediaUnreachableAnswers(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("fetch: %w: node p1: blob x is not stored here", history.ErrOriginMissing), 410, "gone"},
		{&history.UnreachableError{Origin: "p1", Err: errors.New("no responders")}, 503, "media_unreachable"},
		{fmt.Errorf("fetch: %w", storage.ErrBlobMismatch), 502, "media_mismatch"},
		{fmt.Errorf("fetch: %w: node p1 answered an empty chunk", history.ErrOriginAnswer), 502, "media_unavailable"},
	} {
		var e *web.Error
		if err := mediaUnreachable("media m1", c.err); !errors.As(err, &e) || e.Status != c.status || e.Code != c.code {
			t.Errorf("%v: answered %v, want %d %s", c.err, err, c.status, c.code)
		}
	}
}
