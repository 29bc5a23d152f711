package history

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"siteline/cluster/bus"
	"siteline/cluster/pki"
	"siteline/internal/testutil"
	"siteline/storage"
)

// fakeStore is the part of a node's store forwarding uses, in memory.
type fakeStore struct {
	mu       sync.Mutex
	notify   chan struct{}
	outbox   []storage.HistoryOutboxRow
	meta     map[string]string
	applied  []storage.HistoryMessage
	marks    map[string]int64
	forwards []storage.BlobRef
	prunes   []time.Time // the before of each PruneHistoryOutbox
}

func newFakeStore() *fakeStore {
	return &fakeStore{notify: make(chan struct{}, 1), meta: map[string]string{}, marks: map[string]int64{}}
}

// add appends n records to the outbox, as history writes do.
func (s *fakeStore) add(n int) {
	s.mu.Lock()
	for range n {
		seq := int64(len(s.outbox) + 1)
		id := fmt.Sprintf("rec-%d", seq)
		rec, _ := json.Marshal(map[string]any{"id": id, "kind": storage.HistoryAudit})
		s.outbox = append(s.outbox, storage.HistoryOutboxRow{Seq: seq, ID: id, Kind: storage.HistoryAudit, Record: rec, CreatedAt: time.Now()})
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *fakeStore) HistoryNotify() <-chan struct{} { return s.notify }

func (s *fakeStore) PendingHistory(_ context.Context, limit int) ([]storage.HistoryOutboxRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []storage.HistoryOutboxRow
	for _, r := range s.outbox {
		if r.PublishedAt == nil && len(rows) < limit {
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func (s *fakeStore) HistorySince(_ context.Context, after int64, limit int) ([]storage.HistoryOutboxRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []storage.HistoryOutboxRow
	for _, r := range s.outbox {
		if r.Seq > after && len(rows) < limit {
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func (s *fakeStore) MarkHistoryPublished(_ context.Context, through int64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.outbox {
		if s.outbox[i].Seq <= through && s.outbox[i].PublishedAt == nil {
			s.outbox[i].PublishedAt = &at
		}
	}
	return nil
}

func (s *fakeStore) HistoryCounts(_ context.Context, acked int64) (last, unpublished, unacked int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.outbox {
		last = max(last, r.Seq)
		if r.PublishedAt == nil {
			unpublished++
		}
		if r.Seq > acked {
			unacked++
		}
	}
	return last, unpublished, unacked, nil
}

func (s *fakeStore) PruneHistoryOutbox(_ context.Context, _ int64, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prunes = append(s.prunes, before)
	return 0, nil
}

func (s *fakeStore) Meta(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.meta[key]
	if !ok {
		return "", fmt.Errorf("meta %s: %w", key, storage.ErrNotFound)
	}
	return v, nil
}

func (s *fakeStore) SetMeta(_ context.Context, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meta[key] = value
	return nil
}

func (s *fakeStore) ApplyHistory(_ context.Context, batch []storage.HistoryMessage) (storage.HistoryApplied, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range batch {
		if m.Seq > s.marks[m.Origin] {
			s.applied = append(s.applied, m)
			s.marks[m.Origin] = m.Seq
		}
	}
	return storage.HistoryApplied{Applied: len(batch)}, nil
}

func (s *fakeStore) HistoryMarks(context.Context) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for k, v := range s.marks {
		out[k] = v
	}
	return out, nil
}

func (s *fakeStore) ForwardedBlobs(context.Context) ([]storage.BlobRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]storage.BlobRef(nil), s.forwards...), nil
}

// logBuffer collects logs and prints them only if the test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	lb := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			lb.mu.Lock()
			t.Logf("logs:\n%s", lb.buf.String())
			lb.mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startBus starts a bus whose JetStream domain is its node id, as a
// node's is, and shuts it down at the end of the test.
func startBus(t *testing.T, cfg bus.Config) *bus.Bus {
	t.Helper()
	cfg.Domain = cfg.ServerName
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "nats")
	}
	cfg.Logger = testLogger(t)
	b, err := bus.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(testContext(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shut the bus down: %v", err)
		}
	})
	return b
}

// linkedBuses starts a headquarters bus ("hq") and a plant's ("p1")
// linked to it over mutual TLS, as a federation join leaves them.
func linkedBuses(t *testing.T) (hq, plant *bus.Bus) {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leafAddr := ln.Addr().String()
	ln.Close()
	hq = startBus(t, bus.Config{ServerName: "hq", LeafListen: leafAddr, LeafTLS: nodeTLS(t, ca, dir, "hq")})
	plant = startBus(t, bus.Config{ServerName: "p1",
		LeafRemotes: []bus.LeafRemote{{URL: "tls://" + leafAddr, TLS: nodeTLS(t, ca, dir, "p1")}}})
	eventually(t, 20*time.Second, "leaf link up", func() bool { return hq.LeafLinks() == 1 && plant.LeafLinks() == 1 })
	return hq, plant
}

// nodeTLS issues a node certificate from ca and returns its mutual TLS
// configuration, as a federation join does.
func nodeTLS(t *testing.T, ca *pki.CA, dir, id string) *tls.Config {
	t.Helper()
	key, csr, err := pki.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(csr, id, pki.RolePlant)
	if err != nil {
		t.Fatal(err)
	}
	files := pki.InDir(filepath.Join(dir, id))
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	if err := files.WriteNode(caPEM, cert, key); err != nil {
		t.Fatal(err)
	}
	cfg, err := files.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// eventually polls cond until it holds, failing the test after limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, limit, what, cond)
}
