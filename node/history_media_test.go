package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/blob"
	"siteline/web"
)

// addPlantMedia stores bytes as a file of session sessionID at tn, the way
// an upload does: blob first, then the row with its event.
func addPlantMedia(t *testing.T, tn *testNode, sessionID, name string, data []byte) storage.Media {
	t.Helper()
	ctx := context.Background()
	b, err := tn.n.blobs.Put(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	m := storage.Media{ID: newID(), SessionID: sessionID, OrgID: tn.n.OrgID(), Kind: storage.MediaFile, Name: name,
		BlobKey: b.Key, ContentType: "application/pdf", Size: b.Size, SHA256: b.Key, CreatedBy: "u", CreatedAt: now}
	ev := storage.SessionEvent{ID: newID(), SessionID: sessionID, At: now, Kind: storage.EventFile, ActorID: "u",
		Payload: payload(map[string]any{"media": m.ID})}
	if err := tn.n.store.AddMedia(ctx, m, ev); err != nil {
		t.Fatal(err)
	}
	return m
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func blobHere(tn *testNode, key string) bool { return tn.n.blobs.Has(key) }

// diskBlobs is a node's media store on its local disk, for a test that
// reaches behind it (ages or tampers with a blob's file).
func diskBlobs(t *testing.T, tn *testNode) *blob.FS {
	t.Helper()
	fs, ok := tn.n.blobs.(*blob.FS)
	if !ok {
		t.Fatalf("media store is %T, not the local disk", tn.n.blobs)
	}
	return fs
}

// TestHistoryMediaFollowsLazily: the rows of a plant's files and
// recordings reach headquarters with the rest of its history, the bytes
// do not; the first view at headquarters copies them from the plant (in
// several chunks, checked against their SHA-256), later views and views
// during an outage are served from the copy, and a file not yet copied
// while the plant is cut off gets a 503 naming the problem.
func TestHistoryMediaFollowsLazily(t *testing.T) {
	l := newLink(t)
	hq, plant := historyFederation(t, nil, func(hq *testNode, c *Config) {
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(strings.TrimPrefix(hq.n.LeafURL(), "tls://"))}
	})
	eventually(t, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	calls := recordCalls(t, plant, 1)
	ctx := context.Background()

	manual := randomBytes(t, 3*blobChunk+1234) // four chunks
	photo := randomBytes(t, 10_000)
	late := randomBytes(t, 5_000)
	mManual := addPlantMedia(t, plant, calls[0], "manual.pdf", manual)
	mPhoto := addPlantMedia(t, plant, calls[0], "photo.pdf", photo)
	mLate := addPlantMedia(t, plant, calls[0], "late.pdf", late)

	video := randomBytes(t, blobChunk+77)
	vb, err := plant.n.blobs.Put(bytes.NewReader(video), 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-time.Minute)
	end := start.Add(30 * time.Second)
	rec := storage.Recording{ID: newID(), SessionID: calls[0], OrgID: plant.n.OrgID(), Name: "Pump 0 - Ada.webm",
		BlobKey: vb.Key, ContentType: "video/webm", Size: vb.Size, SHA256: vb.Key, Status: storage.RecordingComplete,
		StartedBy: "u", StartedAt: start, EndedAt: &end, DurationMS: 30_000, Participant: "p1", Tracks: []string{"a", "v"}}
	if err := plant.n.store.AddRecording(ctx, rec, storage.SessionEvent{ID: newID(), SessionID: calls[0], At: end,
		Kind: storage.EventRecording, ActorID: "u", Payload: payload(map[string]any{"recording": rec.ID})}); err != nil {
		t.Fatal(err)
	}
	waitSameHistory(t, hq, plant, time.Minute)

	// The rows are at headquarters, pointing at the plant; the bytes not.
	for _, m := range []storage.Media{mManual, mPhoto, mLate} {
		got, err := hq.n.store.Media(ctx, m.ID)
		if err != nil {
			t.Fatalf("media %s at headquarters: %v", m.Name, err)
		}
		want := m
		want.Origin = plant.n.nodeID
		if a, b := mustJSON(t, got), mustJSON(t, want); a != b || got.BlobKey != m.BlobKey {
			t.Errorf("media at headquarters = %s (key %s), want %s (key %s)", a, got.BlobKey, b, m.BlobKey)
		}
		if blobHere(hq, m.BlobKey) {
			t.Errorf("the bytes of %s were copied before anyone opened them", m.Name)
		}
	}
	gotRec, err := hq.n.store.Recording(ctx, rec.ID)
	if err != nil || gotRec.Origin != plant.n.nodeID || gotRec.BlobKey != rec.BlobKey || gotRec.DurationMS != 30_000 || len(gotRec.Tracks) != 2 {
		t.Fatalf("recording at headquarters = %+v, %v", gotRec, err)
	}
	if own, _ := plant.n.store.Media(ctx, mManual.ID); own.Origin != "" {
		t.Errorf("the plant's own media has origin %q", own.Origin)
	}

	// Two people open the manual at once: one copy, both get the bytes.
	admin := hq.admin()
	var wg sync.WaitGroup
	bodies := make([][]byte, 2)
	codes := make([]int, 2)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := admin.get(web.MediaURL(mManual.ID), nil)
			codes[i], bodies[i] = resp.StatusCode, body
		}()
	}
	wg.Wait()
	for i := range bodies {
		if codes[i] != 200 || !bytes.Equal(bodies[i], manual) {
			t.Fatalf("view %d of the manual at headquarters = %d, %d bytes, want %d", i, codes[i], len(bodies[i]), len(manual))
		}
	}
	if !blobHere(hq, mManual.BlobKey) {
		t.Fatal("the manual was served but not kept at headquarters")
	}
	// The recording plays with ranges, the first request copying it.
	resp, part := admin.get(web.RecordingURL(rec.ID), map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != 206 || !bytes.Equal(part, video[100:200]) {
		t.Fatalf("range of the recording at headquarters = %d, %d bytes", resp.StatusCode, len(part))
	}

	// Cut off: what was copied is served; what was not is a clear 503.
	l.setCut(true)
	eventually(t, 20*time.Second, "leaf link down", func() bool { return hq.n.bus.LeafLinks() == 0 })
	if resp, body := admin.get(web.MediaURL(mManual.ID), nil); resp.StatusCode != 200 || !bytes.Equal(body, manual) {
		t.Errorf("copied manual during the cut = %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body := admin.get(web.MediaURL(mLate.ID), nil)
	var eb web.ErrorBody
	_ = json.Unmarshal(body, &eb)
	if resp.StatusCode != 503 || eb.Code != "media_unreachable" || !strings.Contains(eb.Error, plant.n.nodeID) {
		t.Errorf("media not yet copied during the cut = %d %s", resp.StatusCode, body)
	}
	if blobHere(hq, mLate.BlobKey) {
		t.Error("a failed copy left bytes at headquarters")
	}

	// Healed: the copy happens on the next view.
	l.setCut(false)
	eventually(t, 20*time.Second, "leaf link back", func() bool { return plant.n.bus.LeafLinks() == 1 })
	eventually(t, 30*time.Second, "late file copied", func() bool {
		resp, body := admin.get(web.MediaURL(mLate.ID), nil)
		return resp.StatusCode == 200 && bytes.Equal(body, late)
	})

	// Bytes that do not hash to their key are refused, and not kept.
	if err := os.WriteFile(diskBlobs(t, plant).Path(mPhoto.BlobKey), randomBytes(t, len(photo)), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, body = admin.get(web.MediaURL(mPhoto.ID), nil)
	eb = web.ErrorBody{}
	_ = json.Unmarshal(body, &eb)
	if resp.StatusCode != 502 || eb.Code != "media_mismatch" {
		t.Errorf("tampered media = %d %s, want 502 media_mismatch", resp.StatusCode, body)
	}
	if blobHere(hq, mPhoto.BlobKey) {
		t.Error("tampered bytes were kept at headquarters")
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHistoryMediaCopiedAlways: with media.copy_from_sites: always,
// headquarters copies a plant's files as their rows arrive, without a
// view, and serves them while the plant is cut off.
func TestHistoryMediaCopiedAlways(t *testing.T) {
	l := newLink(t)
	hq, plant := historyFederation(t, func(c *Config) { c.Media.CopyFromSites = copyAlways }, func(hq *testNode, c *Config) {
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(strings.TrimPrefix(hq.n.LeafURL(), "tls://"))}
	})
	eventually(t, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	calls := recordCalls(t, plant, 1)
	data := randomBytes(t, blobChunk+1)
	m := addPlantMedia(t, plant, calls[0], "manual.pdf", data)
	eventually(t, 30*time.Second, "file copied to headquarters", func() bool { return blobHere(hq, m.BlobKey) })

	l.setCut(true)
	eventually(t, 20*time.Second, "leaf link down", func() bool { return hq.n.bus.LeafLinks() == 0 })
	if resp, body := hq.admin().get(web.MediaURL(m.ID), nil); resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Errorf("copied file during the cut = %d, %d bytes", resp.StatusCode, len(body))
	}
}
