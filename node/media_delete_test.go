package node

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"siteline/internal/pgtest"
	"siteline/internal/s3test"
	"siteline/storage"
	"siteline/storage/blob"
	"siteline/web"
)

// addPlantSnapshot stores a snapshot of session sessionID at tn as an
// upload in the call does: blob first, then the row with its event.
func addPlantSnapshot(t *testing.T, tn *testNode, sessionID string, data []byte) storage.Media {
	t.Helper()
	b, err := tn.n.blobs.Put(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	m := storage.Media{ID: newID(), SessionID: sessionID, OrgID: tn.n.OrgID(), Kind: storage.MediaSnapshot, Name: "snap.png",
		BlobKey: b.Key, ContentType: "image/png", Size: b.Size, SHA256: b.Key, CreatedBy: "u", Participant: sessionID + "-p0",
		CreatedAt: now}
	ev := storage.SessionEvent{ID: newID(), SessionID: sessionID, At: now, Kind: storage.EventSnapshot, ActorID: "u",
		Payload: payload(map[string]any{"media": m.ID})}
	if err := tn.n.store.AddMedia(context.Background(), m, ev); err != nil {
		t.Fatal(err)
	}
	return m
}

func apiErr(t *testing.T, body []byte) web.ErrorBody {
	t.Helper()
	var eb web.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return eb
}

// TestMediaDeletionFollowsToHeadquarters: headquarters opens a plant's
// snapshot (copying its bytes); cut off, the plant deletes it: its bytes
// go there at once and a view is 410. Once the link heals, headquarters
// keeps the tombstone, drops its copy and answers 410 too, without asking
// the plant again; it refuses to delete what the plant keeps (409). The
// plant's sweeper removes orphan blobs past their grace, and only those.
func TestMediaDeletionFollowsToHeadquarters(t *testing.T) {
	mediaDeletionFollows(t, nil)
}

// TestMediaDeletionFollowsToHeadquartersOnPostgresAndS3: the same, with
// headquarters' history on PostgreSQL and its media in a bucket of a real
// S3 server: the deletion reaches the database through the applier, and
// the database's queue of blob deletions removes headquarters' object.
func TestMediaDeletionFollowsToHeadquartersOnPostgresAndS3(t *testing.T) {
	dsn := pgtest.DB(t)
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	mediaDeletionFollows(t, func(c *Config) {
		onPostgres(dsn)(c)
		c.Storage.Media = MediaStoreConfig{Driver: mediaDriverS3, Endpoint: srv.Endpoint, Bucket: bucket,
			Region: s3test.Region, Prefix: "hq/", AccessKey: srv.AccessKey, SecretKey: blob.Secret(srv.SecretKey)}
	})
}

// mediaDeletionFollows runs TestMediaDeletionFollowsToHeadquarters with
// headquarters configured by hqMod.
func mediaDeletionFollows(t *testing.T, hqMod func(*Config)) {
	l := newLink(t)
	hq, plant := historyFederation(t, hqMod, func(hq *testNode, c *Config) {
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(strings.TrimPrefix(hq.n.LeafURL(), "tls://"))}
		c.Media.SweepEvery = time.Second
		c.Media.SweepGrace = time.Hour
	})
	eventually(t, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	calls := recordCalls(t, plant, 1)
	ctx := context.Background()
	png := append(pngBytes(0), randomBytes(t, 20_000)...)
	snap := addPlantSnapshot(t, plant, calls[0], png)
	manual := addPlantMedia(t, plant, calls[0], "manual.pdf", randomBytes(t, 5_000))
	waitSameHistory(t, hq, plant, time.Minute)

	hqAdmin, plantAdmin := hq.admin(), plant.admin()
	if resp, body := hqAdmin.get(web.MediaURL(snap.ID), nil); resp.StatusCode != 200 || !bytes.Equal(body, png) {
		t.Fatalf("snapshot at headquarters = %d, %d bytes", resp.StatusCode, len(body))
	}
	if !blobHere(hq, snap.BlobKey) {
		t.Fatal("headquarters served the snapshot without keeping it")
	}
	// Headquarters does not delete what the plant keeps.
	code, body := hqAdmin.raw("DELETE", web.MediaURL(manual.ID), "application/json", nil)
	if eb := apiErr(t, body); code != 409 || eb.Code != "delete_at_site" || !strings.Contains(eb.Error, plant.n.nodeID) {
		t.Errorf("deletion at headquarters = %d %+v, want 409 naming the plant", code, eb)
	}

	l.setCut(true)
	eventually(t, 20*time.Second, "leaf link down", func() bool { return hq.n.bus.LeafLinks() == 0 })
	var d storage.MediaDeletion
	if code := plantAdmin.do("DELETE", web.MediaURL(snap.ID), nil, &d); code != 200 || d.ID != snap.ID {
		t.Fatalf("deletion at the plant = %d %+v", code, d)
	}
	if blobHere(plant, snap.BlobKey) {
		t.Error("the plant kept the deleted snapshot's bytes")
	}
	resp, body := plantAdmin.get(web.MediaURL(snap.ID), nil)
	if eb := apiErr(t, body); resp.StatusCode != 410 || eb.Code != "gone" {
		t.Errorf("view of the deleted snapshot at the plant = %d %+v, want 410", resp.StatusCode, eb)
	}
	if code := plantAdmin.do("DELETE", web.MediaURL(snap.ID), nil, nil); code != 410 {
		t.Errorf("second deletion = %d, want 410", code)
	}
	// Cut off, headquarters still has its copy: the deletion has not
	// reached it.
	if resp, _ := hqAdmin.get(web.MediaURL(snap.ID), nil); resp.StatusCode != 200 {
		t.Errorf("headquarters during the cut = %d, want its copy", resp.StatusCode)
	}

	l.setCut(false)
	eventually(t, time.Minute, "the deletion at headquarters, its copy gone", func() bool {
		m, err := hq.n.hist.Media(ctx, snap.ID)
		return err == nil && m.DeletedAt != nil && !blobHere(hq, snap.BlobKey)
	})
	if m, _ := hq.n.hist.Media(ctx, snap.ID); m.DeletedBy == "" || m.Origin != plant.n.nodeID {
		t.Errorf("tombstone at headquarters = %+v", m)
	}
	resp, body = hqAdmin.get(web.MediaURL(snap.ID), nil)
	if eb := apiErr(t, body); resp.StatusCode != 410 || eb.Code != "gone" {
		t.Errorf("view of the deleted snapshot at headquarters = %d %+v, want 410", resp.StatusCode, eb)
	}
	if blobHere(hq, snap.BlobKey) {
		t.Error("the view at headquarters fetched the deleted bytes again")
	}
	audits, _ := hq.n.hist.Audit(ctx, storage.AuditFilter{OrgID: hq.n.OrgID(), Action: "media.delete"})
	if len(audits) != 1 || audits[0].Target != snap.ID {
		t.Errorf("audit at headquarters = %+v", audits)
	}
	if _, body := hqAdmin.get("/sessions/"+calls[0], map[string]string{"Accept": "text/html"}); !strings.Contains(string(body), "deleted by") {
		t.Error("the session page at headquarters does not show the deletion")
	}

	// The plant's sweep: an old orphan goes, a fresh one and an old blob
	// a live row refers to stay.
	old, err := plant.n.blobs.Put(bytes.NewReader(randomBytes(t, 100)), 0)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := plant.n.blobs.Put(bytes.NewReader(randomBytes(t, 100)), 0)
	if err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-2 * time.Hour)
	for _, k := range []string{old.Key, manual.BlobKey} {
		if err := os.Chtimes(diskBlobs(t, plant).Path(k), long, long); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "the old orphan swept", func() bool { return !blobHere(plant, old.Key) })
	if !blobHere(plant, fresh.Key) || !blobHere(plant, manual.BlobKey) {
		t.Errorf("the sweep took a fresh orphan (%v) or a live row's bytes (%v)", !blobHere(plant, fresh.Key), !blobHere(plant, manual.BlobKey))
	}
}
