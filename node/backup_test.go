package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/media/client"
	"siteline/node/backup"
	"siteline/storage/sqlite"
	"siteline/web"
)

// backupOverSocket asks a running node for an archive on its backup
// socket, as `siteline backup` does, and writes it to a file.
func backupOverSocket(t *testing.T, tn *testNode, media bool) string {
	t.Helper()
	sock := BackupSocketPath(tn.cfg.DataDir)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	u := "http://node/backup"
	if media {
		u += "?media=1"
	}
	resp, err := hc.Post(u, "", nil)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	defer resp.Body.Close()
	path := filepath.Join(t.TempDir(), "node.backup")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil || resp.StatusCode != 200 || resp.Trailer.Get(BackupErrorTrailer) != "" {
		t.Fatalf("backup = %s, %v, trailer %q", resp.Status, err, resp.Trailer.Get(BackupErrorTrailer))
	}
	return path
}

// auditWriter writes audit events at tn as fast as the store takes them
// until stopped, and keeps the targets of those acknowledged, in order.
type auditWriter struct {
	mu    sync.Mutex
	acked []string
	err   error
	stop  chan struct{}
	done  chan struct{}
}

func startAuditWriter(tn *testNode, actor string) *auditWriter {
	w := &auditWriter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			target := fmt.Sprintf("write-%05d", i)
			err := tn.n.audit(context.Background(), actor, "backup.test", target, nil)
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			w.acked = append(w.acked, target)
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *auditWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *auditWriter) end() ([]string, error) {
	close(w.stop)
	<-w.done
	return w.acked, w.err
}

// TestBackupDuringWritesAndCallRestoresAndResumesForwarding: a plant is
// backed up while a call sends media and a writer adds history, with its
// link to headquarters cut, so that records it published into its
// JetStream stream have not reached headquarters. The call goes on after
// the backup. The plant's machine is then lost; restored into a new data
// directory, the node has its history row for row as the backup caught
// it, logs in its users, serves its media, follows the federation's Raft
// log, and forwards what headquarters lacked, each record once.
func TestBackupDuringWritesAndCallRestoresAndResumesForwarding(t *testing.T) {
	l := newLink(t)
	hq, plant := historyFederation(t, nil, func(hq *testNode, c *Config) {
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(strings.TrimPrefix(hq.n.LeafURL(), "tls://"))}
	})
	eventually(t, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	ctx := context.Background()
	admin := plant.admin()
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Name: "Tom Tech",
		Password: "tech's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create tech = %d", st)
	}
	eventually(t, 20*time.Second, "tech replicated to the plant", func() bool {
		return plant.tryLogin("tech@plant.example", "tech's password 1")
	})
	recordCalls(t, plant, 2)
	waitSameHistory(t, hq, plant, 60*time.Second)

	// A call with media flowing, and a file shown in it.
	cn := &callNode{testNode: plant, admin: admin, tech: plant.login("tech@plant.example", "tech's password 1")}
	call := cn.createCall(t, cn.tech)
	pub := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	sub := cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := pub.Publish(pctx, client.TrackSpec{Kind: "video"}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	video := waitTrack(t, sub, pub.ID(), "video")
	manual := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("page of the pump manual\n"), 3000)...)
	st, body := cn.tech.upload("/api/v1/calls/"+call.ID+"/media", map[string]string{"participant": pub.ID()},
		"manual.pdf", "application/pdf", manual)
	file := mustMedia(t, st, body)

	// The link goes down; what the plant records now waits for it,
	// published into the plant's stream.
	l.setCut(true)
	eventually(t, 20*time.Second, "leaf link down", func() bool { return plant.n.bus.LeafLinks() == 0 })
	recordCalls(t, plant, 3)
	eventually(t, 20*time.Second, "records published into the plant's stream", func() bool {
		_, unpublished, _, err := plant.n.store.HistoryCounts(ctx, 0)
		return err == nil && unpublished == 0
	})

	adminUser, err := plant.n.store.UserByEmail(ctx, plant.n.OrgID(), plant.cfg.Organisation.AdminEmail)
	if err != nil {
		t.Fatal(err)
	}
	w := startAuditWriter(plant, adminUser.ID)
	eventually(t, 10*time.Second, "writes under way", func() bool { return w.count() >= 20 })
	before := siteRecords(t, plant, plant.n.OrgID(), plant.n.siteID)
	ackedBefore := w.count()
	flowing := video.Stats().Unique
	archive := backupOverSocket(t, plant, true)
	after := siteRecords(t, plant, plant.n.OrgID(), plant.n.siteID)
	if w.count() == ackedBefore {
		t.Fatal("the writer was held up by the backup: no write was acknowledged while it ran")
	}
	// The call goes on: media still flows to the subscriber.
	eventually(t, 20*time.Second, "media after the backup", func() bool {
		s := video.Stats()
		return s.Unique >= flowing+60
	})
	acked, err := w.end()
	if err != nil {
		t.Fatalf("writer: %v", err)
	}
	m, err := backup.Verify(mustOpen(t, archive))
	if err != nil || m.NodeID != plant.n.nodeID || !m.Media || m.Raft.Index == 0 {
		t.Fatalf("archive = %+v, %v", m, err)
	}
	t.Logf("backup during %d acknowledged writes (%d before it started): %d files, %d bytes, raft index %d",
		len(acked), ackedBefore, len(m.Files), m.Size(), m.Raft.Index)

	// The plant's machine is lost, link still down.
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if err := plant.n.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown plant: %v", err)
	}
	cfg := plant.cfg
	cfg.DataDir = filepath.Join(shortTempDir(t), "new")
	r, err := Restore(ctx, archive, cfg.DataDir, RestoreOptions{})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if r.Republished == 0 {
		t.Errorf("restore marks no record to publish again; the plant's unacknowledged ones were in the archive")
	}
	l.setCut(false)
	restored := startNodeAsIs(t, cfg, Options{})
	restored.password = plant.password

	// Row by row: what the backup caught, no less and nothing else.
	got := siteRecords(t, restored, plant.n.OrgID(), plant.n.siteID)
	for k, v := range before {
		if got[k] != v {
			t.Errorf("%s: restored %q, before the backup %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if after[k] != v {
			t.Errorf("%s: restored %q, after the backup %q", k, v, after[k])
		}
	}
	for _, target := range acked[:ackedBefore] {
		if !hasAudit(got, target) {
			t.Fatalf("write %s, acknowledged before the backup started, is not in the restored node", target)
		}
	}
	t.Logf("restored %d history records (%d before the backup started, %d when it ended)", len(got), len(before), len(after))

	// Users log in; the media is there; the Raft log goes on.
	if !restored.tryLogin("tech@plant.example", "tech's password 1") || !restored.tryLogin(plant.cfg.Organisation.AdminEmail, adminPassword) {
		t.Fatal("the plant's users cannot log in at the restored node")
	}
	if resp, data := restored.admin().get(file.URL, nil); resp.StatusCode != 200 || !bytes.Equal(data, manual) {
		t.Fatalf("media after restore = %d, %d bytes", resp.StatusCode, len(data))
	}
	if st := hq.admin().do("POST", "/api/v1/users", web.UserInput{Email: "new@plant.example", Name: "New",
		Password: "new person's password", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create user at headquarters = %d", st)
	}
	eventually(t, 30*time.Second, "a user created after the restore reaches the plant", func() bool {
		return restored.tryLogin("new@plant.example", "new person's password")
	})

	// Forwarding resumes: headquarters holds the restored plant's history
	// exactly (siteRecords refuses a record twice), then what it records
	// next.
	eventually(t, 20*time.Second, "leaf link back", func() bool { return restored.n.bus.LeafLinks() == 1 })
	waitSameHistory(t, hq, restored, 2*time.Minute)
	recordCalls(t, restored, 1)
	waitSameHistory(t, hq, restored, time.Minute)
	// Acknowledgements are exact again: the restored outbox numbers its
	// records past the lost machine's, and headquarters' mark reaches the
	// last of them.
	ra := restored.admin()
	eventually(t, 30*time.Second, "restored plant's backlog acknowledged", func() bool {
		return backlogOf(clusterNode(t, restored, ra, restored.n.nodeID)) == 0
	})
	marks, err := hq.n.store.HistoryMarks(ctx)
	last, _, _, _ := restored.n.store.HistoryCounts(ctx, 0)
	if err != nil || marks[restored.n.nodeID] != last || last < sqlite.RestoredOutboxGap {
		t.Errorf("headquarters' mark for the plant = %d (%v), its last record %d", marks[restored.n.nodeID], err, last)
	}
}

func hasAudit(records map[string]string, target string) bool {
	for k, v := range records {
		if strings.HasPrefix(k, "audit/") && strings.Contains(v, `"`+target+`"`) {
			return true
		}
	}
	return false
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestBackupRestoreRefusesBadArchivesWritingNothing: a corrupt,
// truncated, foreign or newer archive, or a target that holds files, is
// refused with the reason before anything is written.
func TestBackupRestoreRefusesBadArchivesWritingNothing(t *testing.T) {
	var good bytes.Buffer
	w, err := backup.NewWriter(&good, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	db := strings.Repeat("page ", 5000)
	if err := w.Add(backup.DataPrefix+storeFile, int64(len(db)), strings.NewReader(db)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(backup.Manifest{NodeID: "plant-1"}); err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(good.Bytes())
	corrupt[bytes.Index(corrupt, []byte("page "))+1000] ^= 1
	newer := bytes.Replace(good.Bytes(), []byte(`"version":1`), []byte(`"version":9`), 1)

	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		archive []byte
		kind    error
		message string
	}{
		{"corrupt", corrupt, backup.ErrCorrupt, "data/siteline.db has SHA-256"},
		{"truncated", good.Bytes()[:len(good.Bytes())/2], backup.ErrTruncated, "ends inside data/siteline.db"},
		{"foreign", []byte("\x1f\x8b\x08 a gzip file, say"), backup.ErrForeign, "not a tar archive"},
		{"newer", newer, backup.ErrNewer, "format version 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			archive := filepath.Join(dir, tc.name+".backup")
			if err := os.WriteFile(archive, tc.archive, 0o600); err != nil {
				t.Fatal(err)
			}
			parent := t.TempDir()
			_, err := Restore(context.Background(), archive, filepath.Join(parent, "data"), RestoreOptions{})
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.message) || !strings.Contains(err.Error(), archive) {
				t.Fatalf("restore = %v; want %v naming the archive and %q", err, tc.kind, tc.message)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Fatalf("a refused restore wrote %v", entries)
			}
		})
	}

	t.Run("target holds files", func(t *testing.T) {
		archive := filepath.Join(dir, "good.backup")
		if err := os.WriteFile(archive, good.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(target, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(target, "notes.txt"), []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Restore(context.Background(), archive, target, RestoreOptions{})
		if err == nil || !strings.Contains(err.Error(), "is not empty") || !strings.Contains(err.Error(), "-force") {
			t.Fatalf("restore over files = %v", err)
		}
		entries, _ := os.ReadDir(filepath.Dir(target))
		kept, _ := os.ReadFile(filepath.Join(target, "notes.txt"))
		if len(entries) != 1 || string(kept) != "mine" {
			t.Fatalf("a refused restore changed the target's parent: %v, notes %q", entries, kept)
		}
	})
}
