package bus

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"siteline/internal/testutil"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startBus starts a bus over dir and shuts it down at the end of the test.
func startBus(t *testing.T, ctx context.Context, cfg Config) *Bus {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testutil.NewLog(t).Logger()
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	if !b.Ready() {
		t.Fatal("bus not ready after Start")
	}
	return b
}

func streamMsgs(t *testing.T, ctx context.Context, b *Bus, name string) uint64 {
	t.Helper()
	s, err := b.JetStream().Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", name, err)
	}
	return info.State.Msgs
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string // "" means valid
	}{
		{"minimal", Config{Dir: "/x"}, ""},
		{"listen", Config{Dir: "/x", Listen: "127.0.0.1:0"}, ""},
		{"no dir", Config{}, "Dir"},
		{"bad listen", Config{Dir: "/x", Listen: "nope"}, "Listen"},
		{"bad port", Config{Dir: "/x", Listen: "127.0.0.1:99999"}, "Listen"},
		{"spaces in name", Config{Dir: "/x", ServerName: "a b"}, "ServerName"},
		{"negative window", Config{Dir: "/x", DuplicateWindow: -time.Second}, "DuplicateWindow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.field)
			}
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestPublishDeduplicatesByMsgID(t *testing.T) {
	ctx := testContext(t)
	b := startBus(t, ctx, Config{Dir: t.TempDir(), ServerName: "plant-1"})
	if jsc := b.srv.JetStreamConfig(); jsc == nil || !jsc.SyncAlways {
		t.Fatalf("JetStream config %+v: want SyncAlways (acknowledged means on disk)", jsc)
	}
	if err := b.EnsureStream(ctx, "EVENTS", []string{"events.>"}); err != nil {
		t.Fatalf("EnsureStream: %v", err)
	}
	// Ensuring it again is harmless.
	if err := b.EnsureStream(ctx, "EVENTS", []string{"events.>"}); err != nil {
		t.Fatalf("EnsureStream again: %v", err)
	}

	for range 2 {
		if seq, err := b.Publish(ctx, "events.session", "evt-1", []byte(`{"n":1}`)); err != nil || seq != 1 {
			t.Fatalf("Publish evt-1 = %d, %v; want sequence 1", seq, err)
		}
	}
	if seq, err := b.Publish(ctx, "events.session", "evt-2", []byte(`{"n":2}`)); err != nil || seq != 2 {
		t.Fatalf("Publish evt-2 = %d, %v; want sequence 2", seq, err)
	}
	if n := streamMsgs(t, ctx, b, "EVENTS"); n != 2 {
		t.Fatalf("stream holds %d messages, want 2 (evt-1 once, evt-2)", n)
	}

	if _, err := b.Publish(ctx, "events.session", "", []byte("x")); err == nil {
		t.Fatal("Publish without a message id succeeded")
	}
	if _, err := b.Publish(ctx, "nowhere.subject", "evt-3", []byte("x")); err == nil {
		t.Fatal("Publish to a subject no stream holds was acknowledged")
	}

	// Purging below 2 keeps evt-2 only.
	if err := b.Purge(ctx, "EVENTS", 2); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, ctx, b, "EVENTS"); n != 1 {
		t.Fatalf("after the purge the stream holds %d messages, want 1", n)
	}
	st, _ := b.JetStream().Stream(ctx, "EVENTS")
	if _, err := st.GetMsg(ctx, 2); err != nil {
		t.Fatalf("evt-2 purged: %v", err)
	}
	if err := b.Purge(ctx, "NOPE", 2); err == nil {
		t.Fatal("purging a stream that does not exist succeeded")
	}
}

func TestMessageSurvivesRestart(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()

	first, err := New(Config{Dir: dir, ServerName: "plant-1", Logger: testutil.NewLog(t).Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := first.EnsureStream(ctx, "EVENTS", []string{"events.>"}); err != nil {
		t.Fatalf("EnsureStream: %v", err)
	}
	if _, err := first.Publish(ctx, "events.chat", "evt-1", []byte("hello")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if first.Ready() {
		t.Fatal("Ready after Shutdown")
	}
	if _, err := first.Publish(ctx, "events.chat", "evt-2", []byte("late")); err == nil {
		t.Fatal("Publish after Shutdown succeeded")
	}

	second := startBus(t, ctx, Config{Dir: dir, ServerName: "plant-1"})
	if n := streamMsgs(t, ctx, second, "EVENTS"); n != 1 {
		t.Fatalf("after restart the stream holds %d messages, want 1", n)
	}
	s, err := second.JetStream().Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("GetMsg 1: %v", err)
	}
	if string(msg.Data) != "hello" || msg.Header.Get(jetstream.MsgIDHeader) != "evt-1" {
		t.Fatalf("message 1 = %q (id %q), want hello (evt-1)", msg.Data, msg.Header.Get(jetstream.MsgIDHeader))
	}
	// The duplicate window survives too: republishing evt-1 stores nothing.
	if _, err := second.Publish(ctx, "events.chat", "evt-1", []byte("hello")); err != nil {
		t.Fatalf("Publish evt-1 again: %v", err)
	}
	if n := streamMsgs(t, ctx, second, "EVENTS"); n != 1 {
		t.Fatalf("after republishing evt-1 the stream holds %d messages, want 1", n)
	}
}

func TestNoListenOpensNoPort(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs Linux /proc")
	}
	ctx := testContext(t)
	before := listeningSockets(t)
	b := startBus(t, ctx, Config{Dir: t.TempDir()})
	if got := newSockets(listeningSockets(t), before); len(got) != 0 {
		t.Fatalf("with Listen empty the process listens on %d new TCP sockets", len(got))
	}
	if u := b.ClientURL(); u != "" {
		t.Fatalf("ClientURL = %q, want empty", u)
	}
	// The in-process client works all the same.
	if err := b.Conn().Flush(); err != nil {
		t.Fatalf("in-process client: %v", err)
	}
}

func TestListenAcceptsNetworkClients(t *testing.T) {
	ctx := testContext(t)
	before := listeningSockets(t)
	b := startBus(t, ctx, Config{Dir: t.TempDir(), Listen: "127.0.0.1:0"})
	if _, err := os.Stat("/proc/self/fd"); err == nil {
		if got := newSockets(listeningSockets(t), before); len(got) == 0 {
			t.Fatal("with Listen set no new listening socket was found (the no-port check would prove nothing)")
		}
	}
	url := b.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("ClientURL = %q", url)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect over TCP: %v", err)
	}
	defer nc.Close()
	sub, err := b.Conn().SubscribeSync("ping")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("ping", []byte("pong")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil || string(m.Data) != "pong" {
		t.Fatalf("NextMsg = %v, %v", m, err)
	}
}

func TestNotStarted(t *testing.T) {
	b, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if b.Ready() || b.Conn() != nil || b.JetStream() != nil {
		t.Fatal("a bus that was not started looks started")
	}
	if _, err := b.Publish(t.Context(), "a", "id", nil); err == nil {
		t.Fatal("Publish before Start succeeded")
	}
	if err := b.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}
}

// listeningSockets returns the inodes of the TCP sockets this process has
// open in the LISTEN state.
func listeningSockets(t *testing.T) map[string]bool {
	t.Helper()
	listening := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) > 9 && fields[3] == "0A" {
				listening[fields[9]] = true
			}
		}
		fh.Close()
	}
	own := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return own
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			inode = strings.TrimSuffix(inode, "]")
			if listening[inode] {
				own[inode] = true
			}
		}
	}
	return own
}

func newSockets(after, before map[string]bool) []string {
	var out []string
	for s := range after {
		if !before[s] {
			out = append(out, s)
		}
	}
	return out
}
