package bus

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"siteline/cluster/pki"
	"siteline/internal/testutil"
)

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
	caPEM, err := pkiCAPEM(ca)
	if err != nil {
		t.Fatal(err)
	}
	files := pki.InDir(filepath.Join(dir, id))
	if err := files.WriteNode(caPEM, cert, key); err != nil {
		t.Fatal(err)
	}
	cfg, err := files.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func pkiCAPEM(ca *pki.CA) ([]byte, error) {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), nil
}

// freePort reserves a loopback port for a listener configured by number.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestHistoryReachesHeadquartersOnceAfterOutages: a plant writes history
// into its own stream whatever the link does; headquarters sources it over
// a mutual-TLS leaf link; every event arrives exactly once, across a
// headquarters that starts late and one that restarts.
func TestHistoryReachesHeadquartersOnceAfterOutages(t *testing.T) {
	testutil.System(t)
	dir := t.TempDir()
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	hqTLS, plantTLS := nodeTLS(t, ca, dir, "hq"), nodeTLS(t, ca, dir, "plant-1")
	leafAddr := freePort(t)
	ctx := context.Background()

	plant := startBus(t, context.Background(), Config{
		Dir: filepath.Join(dir, "plant"), ServerName: "plant-1", Domain: "plant-1",
		LeafRemotes: []LeafRemote{{URL: "tls://" + leafAddr, TLS: plantTLS}},
	})
	if err := plant.EnsureStream(ctx, "HISTORY", []string{"history.>"}); err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("event-%04d", i)
			if _, err := plant.Publish(ctx, "history.session", id, []byte(id)); err != nil {
				t.Fatalf("publish %s: %v", id, err)
			}
		}
	}
	// Headquarters is not up yet: the plant keeps its history.
	publish(0, 100)

	hqCfg := Config{
		Dir: filepath.Join(dir, "hq"), ServerName: "hq", Domain: "hq",
		LeafListen: leafAddr, LeafTLS: hqTLS,
	}
	hq := startBus(t, context.Background(), hqCfg)
	testutil.Eventually(t, 20*time.Second, "leaf link up", func() bool { return hq.LeafLinks() == 1 })
	if err := hq.SourceStream(ctx, "HISTORY_ALL", []Source{{Stream: "HISTORY", Domain: "plant-1"}}); err != nil {
		t.Fatal(err)
	}
	count := func(b *Bus) uint64 {
		n, err := b.StreamLen(ctx, "HISTORY_ALL")
		if err != nil {
			return 0
		}
		return n
	}
	testutil.Eventually(t, 30*time.Second, "backlog at headquarters", func() bool { return count(hq) == 100 })

	// Headquarters goes away; the plant goes on writing; it comes back.
	if err := hq.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	publish(100, 150)
	publish(140, 150) // a retry of the last ten, as after a lost ack: deduplicated
	hq = startBus(t, context.Background(), hqCfg)
	testutil.Eventually(t, 20*time.Second, "leaf link back", func() bool { return hq.LeafLinks() == 1 })
	// The restarted server retried sourcing before the link was back, and
	// JetStream backs off between retries (at most two minutes): the
	// backlog is delayed, never lost.
	start := time.Now()
	testutil.Eventually(t, 150*time.Second, "history after restart", func() bool { return count(hq) >= 150 })
	t.Logf("backlog of 50 arrived %s after headquarters restarted", time.Since(start).Round(time.Second))

	// Exactly once, in order.
	js := hq.JetStream()
	st, err := js.Stream(ctx, "HISTORY_ALL")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(hq); n != 150 {
		t.Fatalf("headquarters holds %d events, want 150", n)
	}
	for seq := uint64(1); seq <= 150; seq++ {
		msg, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		want := fmt.Sprintf("event-%04d", seq-1)
		if string(msg.Data) != want || msg.Header.Get(jetstream.MsgIDHeader) != want {
			t.Fatalf("message %d = %q (id %q), want %s", seq, msg.Data, msg.Header.Get(jetstream.MsgIDHeader), want)
		}
	}
}

// TestLeafLinkRefusesForeignCertificates: a node with a certificate from
// another CA never links.
func TestLeafLinkRefusesForeignCertificates(t *testing.T) {
	testutil.System(t)
	dir := t.TempDir()
	ca, _ := pki.NewCA("Acme")
	other, _ := pki.NewCA("Intruder")
	leafAddr := freePort(t)
	hq := startBus(t, context.Background(), Config{
		Dir: filepath.Join(dir, "hq"), ServerName: "hq", Domain: "hq",
		LeafListen: leafAddr, LeafTLS: nodeTLS(t, ca, dir, "hq"),
	})
	good := startBus(t, context.Background(), Config{
		Dir: filepath.Join(dir, "good"), ServerName: "good", Domain: "good",
		LeafRemotes: []LeafRemote{{URL: "tls://" + leafAddr, TLS: nodeTLS(t, ca, dir, "good")}},
	})
	_ = good
	testutil.Eventually(t, 20*time.Second, "the good link", func() bool { return hq.LeafLinks() == 1 })
	intruder := startBus(t, context.Background(), Config{
		Dir: filepath.Join(dir, "bad"), ServerName: "bad", Domain: "bad",
		LeafRemotes: []LeafRemote{{URL: "tls://" + leafAddr, TLS: nodeTLS(t, other, dir, "bad")}},
	})
	// The intruder retries every leafReconnect; give it several tries.
	deadline := time.Now().Add(3 * leafReconnect)
	for time.Now().Before(deadline) {
		if n := hq.LeafLinks(); n != 1 || intruder.LeafLinks() != 0 {
			t.Fatalf("links: hq %d, intruder %d; want the intruder refused", n, intruder.LeafLinks())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLeafAddrReportsThePickedPort: a hub asked to listen on any port
// tells which one it got, and a leaf links to it there.
func TestLeafAddrReportsThePickedPort(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	hq := startBus(t, context.Background(), Config{
		Dir: filepath.Join(dir, "hq"), ServerName: "hq", Domain: "hq",
		LeafListen: "127.0.0.1:0", LeafTLS: nodeTLS(t, ca, dir, "hq"),
	})
	addr := hq.LeafAddr()
	if host, port, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("LeafAddr = %q (%v), want 127.0.0.1 and a picked port", addr, err)
	}
	plant := startBus(t, context.Background(), Config{
		Dir: filepath.Join(dir, "plant"), ServerName: "plant", Domain: "plant",
		LeafRemotes: []LeafRemote{{URL: "tls://" + addr, TLS: nodeTLS(t, ca, dir, "plant")}},
	})
	testutil.Eventually(t, 20*time.Second, "leaf link", func() bool { return hq.LeafLinks() == 1 && plant.LeafLinks() == 1 })
	if plant.LeafAddr() != "" {
		t.Errorf("a node that accepts no links reports LeafAddr %q", plant.LeafAddr())
	}
}

// startHub starts a headquarters bus ("hq") that accepts leaf links.
func startHub(t *testing.T, ctx context.Context, ca *pki.CA, dir string) *Bus {
	t.Helper()
	return startBus(t, ctx, Config{Dir: filepath.Join(dir, "hq"), ServerName: "hq", Domain: "hq",
		LeafListen: "127.0.0.1:0", LeafTLS: nodeTLS(t, ca, dir, "hq")})
}

// startPlant starts plant name's bus, linked to hq, with its HISTORY
// stream on subject history.<name>.
func startPlant(t *testing.T, ctx context.Context, ca *pki.CA, dir string, hq *Bus, name string) *Bus {
	t.Helper()
	b := startBus(t, ctx, Config{Dir: filepath.Join(dir, name), ServerName: name, Domain: name,
		LeafRemotes: []LeafRemote{{URL: "tls://" + hq.LeafAddr(), TLS: nodeTLS(t, ca, dir, name)}}})
	if err := b.EnsureStream(ctx, "HISTORY", []string{"history." + name}); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRestartSourcesResumesOnce: restarting a source (as after an outage)
// resumes after the last message it copied: every message once, in order.
func TestRestartSourcesResumesOnce(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	hq := startHub(t, ctx, ca, dir)
	plant := startPlant(t, ctx, ca, dir, hq, "plant")
	testutil.Eventually(t, 20*time.Second, "leaf link", func() bool { return hq.LeafLinks() == 1 })
	if err := hq.SourceStream(ctx, "ALL", []Source{{Stream: "HISTORY", Domain: "plant"}}); err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("event-%04d", i)
			if _, err := plant.Publish(ctx, "history.plant", id, []byte(id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() uint64 { n, _ := hq.StreamLen(ctx, "ALL"); return n }
	publish(0, 50)
	testutil.Eventually(t, 20*time.Second, "first 50", func() bool { return count() == 50 })
	if err := hq.RestartSources(ctx, "ALL", []string{"plant"}); err != nil {
		t.Fatal(err)
	}
	if err := hq.RestartSources(ctx, "ALL", []string{"elsewhere"}); err != nil {
		t.Errorf("restart of a domain not sourced = %v, want nothing done", err)
	}
	publish(50, 100)
	testutil.Eventually(t, 20*time.Second, "all 100", func() bool { return count() >= 100 })
	st, err := hq.JetStream().Stream(ctx, "ALL")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Config.Sources) != 1 || len(info.Config.Subjects) != 0 {
		t.Errorf("after restarts the stream has sources %v and subjects %v, want its one source and no subject", info.Config.Sources, info.Config.Subjects)
	}
	for seq := uint64(1); seq <= 100; seq++ {
		msg, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		if want := fmt.Sprintf("event-%04d", seq-1); string(msg.Data) != want {
			t.Fatalf("message %d = %q, want %s", seq, msg.Data, want)
		}
	}
	if n := count(); n != 100 {
		t.Errorf("stream holds %d messages, want 100", n)
	}
}

// TestSourceAddedAfterAPurgeCopiesWhatCameBefore: a hub whose copy was
// purged of what it applied (as the history hub purges HISTORY_ALL) adds
// a new source from its first message: every message the new origin held
// before, older than the copy's last, arrives, once. Without FromFirst,
// JetStream starts it at the copy's last message time and skips them.
func TestSourceAddedAfterAPurgeCopiesWhatCameBefore(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	hq := startHub(t, ctx, ca, dir)
	plants := map[string]*Bus{}
	for _, name := range []string{"early", "late"} {
		plants[name] = startPlant(t, ctx, ca, dir, hq, name)
	}
	testutil.Eventually(t, 20*time.Second, "leaf links", func() bool { return hq.LeafLinks() == 2 })
	publish := func(plant string, from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("%s-%04d", plant, i)
			if _, err := plants[plant].Publish(ctx, "history."+plant, id, []byte(id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() uint64 { n, _ := hq.StreamLen(ctx, "ALL"); return n }

	publish("late", 0, 20) // before anything reaches the copy
	if err := hq.SourceStream(ctx, "ALL", []Source{{Stream: "HISTORY", Domain: "early"}}); err != nil {
		t.Fatal(err)
	}
	publish("early", 0, 10)
	testutil.Eventually(t, 20*time.Second, "the early plant's 10", func() bool { return count() == 10 })
	if err := hq.Purge(ctx, "ALL", 11); err != nil {
		t.Fatal(err)
	}
	if err := hq.SourceStream(ctx, "ALL", []Source{{Stream: "HISTORY", Domain: "early"}, {Stream: "HISTORY", Domain: "late", FromFirst: true}}); err != nil {
		t.Fatal(err)
	}
	publish("late", 20, 25)
	st, err := hq.JetStream().Stream(ctx, "ALL")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	testutil.Eventually(t, 20*time.Second, "the late plant's 25", func() bool {
		info, err := st.Info(ctx)
		if err != nil || info.State.LastSeq < 35 {
			return false
		}
		got = got[:0]
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			if msg, err := st.GetMsg(ctx, seq); err == nil {
				got = append(got, string(msg.Data))
			}
		}
		return len(got) == 25
	})
	for i, id := range got {
		if want := fmt.Sprintf("late-%04d", i); id != want {
			t.Fatalf("after the purge the copy holds %v, want late-0000 to late-0024 once, in order", got)
		}
	}
}

// TestSetLeafRemotesFollowsAHubThatMoved: headquarters restarts on another
// leaf port; the running plant is given the new address and links to it,
// with history flowing again; given no hub, it unlinks.
func TestSetLeafRemotesFollowsAHubThatMoved(t *testing.T) {
	testutil.System(t)
	dir := t.TempDir()
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	hqTLS, plantTLS := nodeTLS(t, ca, dir, "hq"), nodeTLS(t, ca, dir, "plant")
	hqCfg := Config{Dir: filepath.Join(dir, "hq"), ServerName: "hq", Domain: "hq", LeafListen: "127.0.0.1:0", LeafTLS: hqTLS}
	hq := startBus(t, ctx, hqCfg)
	plant := startBus(t, ctx, Config{Dir: filepath.Join(dir, "plant"), ServerName: "plant", Domain: "plant",
		LeafRemotes: []LeafRemote{{URL: "tls://" + hq.LeafAddr(), TLS: plantTLS}}})
	testutil.Eventually(t, 20*time.Second, "leaf link", func() bool { return hq.LeafLinks() == 1 })
	if err := plant.EnsureStream(ctx, "HISTORY", []string{"history.plant"}); err != nil {
		t.Fatal(err)
	}

	if err := hq.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	hq = startBus(t, ctx, hqCfg) // a new random port
	if err := plant.SetLeafRemotes([]LeafRemote{{URL: "tls://[" + hq.LeafAddr()}}); err == nil {
		t.Fatal("a remote that is not a URL was accepted")
	}
	if err := plant.SetLeafRemotes([]LeafRemote{{URL: "tls://" + hq.LeafAddr(), TLS: plantTLS}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the leaf link to the moved hub", func() bool { return hq.LeafLinks() == 1 && plant.LeafLinks() == 1 })
	if _, err := plant.Publish(ctx, "history.plant", "e1", []byte("e1")); err != nil {
		t.Fatal(err)
	}
	if err := hq.SourceStream(ctx, "ALL", []Source{{Stream: "HISTORY", Domain: "plant"}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "history over the new link", func() bool { n, _ := hq.StreamLen(ctx, "ALL"); return n == 1 })

	if err := plant.SetLeafRemotes(nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the link to close", func() bool { return hq.LeafLinks() == 0 && plant.LeafLinks() == 0 })
}

// TestSourceResumesAfterAPurgeAndARestart: a hub restarts while one
// plant's link is down, its copy purged of everything it had, and the
// other plant's messages in it newer than what the cut-off plant recorded
// meanwhile. When the link comes back and the hub restarts that source
// (as the history hub does when a link comes up), it resumes after the
// last message it copied: the outage's messages arrive, once, in order.
// RestartSources used to take the source out of the configuration and put
// it back, which dropped JetStream's position for it; put back with no
// position, it started at the copy's last message time and skipped them.
func TestSourceResumesAfterAPurgeAndARestart(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	hqCfg := Config{Dir: filepath.Join(dir, "hq"), ServerName: "hq", Domain: "hq",
		LeafListen: freePort(t), LeafTLS: nodeTLS(t, ca, dir, "hq")}
	hq := startBus(t, ctx, hqCfg)
	plants := map[string]*Bus{}
	for _, name := range []string{"cut", "linked"} {
		plants[name] = startPlant(t, ctx, ca, dir, hq, name)
	}
	testutil.Eventually(t, 20*time.Second, "leaf links", func() bool { return hq.LeafLinks() == 2 })
	publish := func(plant string, from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("%s-%04d", plant, i)
			if _, err := plants[plant].Publish(ctx, "history."+plant, id, []byte(id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	sources := []Source{{Stream: "HISTORY", Domain: "cut"}, {Stream: "HISTORY", Domain: "linked"}}
	if err := hq.SourceStream(ctx, "ALL", sources); err != nil {
		t.Fatal(err)
	}
	last := func() uint64 {
		st, err := hq.JetStream().Stream(ctx, "ALL")
		if err != nil {
			return 0
		}
		info, err := st.Info(ctx)
		if err != nil {
			return 0
		}
		return info.State.LastSeq
	}
	publish("cut", 0, 10)
	publish("linked", 0, 10)
	testutil.Eventually(t, 20*time.Second, "the first 20", func() bool { return last() == 20 })

	// The cut plant loses its link and goes on recording; the other's
	// later messages reach the hub.
	hqURL := LeafRemote{URL: "tls://" + hq.LeafAddr(), TLS: nodeTLS(t, ca, dir, "cut")}
	if err := plants["cut"].SetLeafRemotes(nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the cut plant's link down", func() bool { return hq.LeafLinks() == 1 })
	publish("cut", 10, 20)
	publish("linked", 10, 20)
	testutil.Eventually(t, 20*time.Second, "the linked plant's next 10", func() bool { return last() == 30 })

	// Everything applied is purged; the hub restarts.
	if err := hq.Purge(ctx, "ALL", 31); err != nil {
		t.Fatal(err)
	}
	if err := hq.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	hq = startBus(t, ctx, hqCfg)
	testutil.Eventually(t, 20*time.Second, "the linked plant back", func() bool { return hq.LeafLinks() == 1 })
	if err := plants["cut"].SetLeafRemotes([]LeafRemote{hqURL}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the cut plant's link back", func() bool { return hq.LeafLinks() == 2 })
	if err := hq.RestartSources(ctx, "ALL", []string{"cut"}); err != nil {
		t.Fatal(err)
	}
	publish("cut", 20, 25)
	st, err := hq.JetStream().Stream(ctx, "ALL")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	testutil.Eventually(t, 20*time.Second, "the cut plant's outage and after", func() bool {
		info, err := st.Info(ctx)
		if err != nil || info.State.LastSeq < 45 {
			return false
		}
		got = got[:0]
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			if msg, err := st.GetMsg(ctx, seq); err == nil {
				got = append(got, string(msg.Data))
			}
		}
		return len(got) >= 15
	})
	for i, id := range got {
		if want := fmt.Sprintf("cut-%04d", 10+i); id != want || len(got) != 15 {
			t.Fatalf("after the restart the copy holds %v, want cut-0010 to cut-0024 once, in order", got)
		}
	}
}
