package sfu_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/storage"
)

// authz grants everything except what deny lists, by user id.
type authz struct {
	mu   sync.Mutex
	deny map[string]map[string]bool
}

func (a *authz) Check(user, perm string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.deny[user][perm] {
		return &storage.ForbiddenError{Permission: perm}
	}
	return nil
}

func (a *authz) refuse(user, perm string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.deny == nil {
		a.deny = make(map[string]map[string]bool)
	}
	if a.deny[user] == nil {
		a.deny[user] = make(map[string]bool)
	}
	a.deny[user][perm] = true
}

// loopback is a client.Signaler wired straight to the SFU, as the web
// layer will be: it calls Join for join and Handle for the rest. Every
// message goes through Encode and Decode both ways, so that the protocol
// is exercised as on a socket.
type loopback struct {
	sfu     *sfu.SFU
	user    string
	inbox   chan signal.Message
	closed  chan struct{}
	once    sync.Once
	serial  sync.Mutex // one Send at a time, as one socket reader would
	mu      sync.Mutex
	p       *sfu.Participant
	stream  *signal.Stream
	rewrite func(signal.Message) signal.Message // server to client, for the proxy
}

func newLoopback(s *sfu.SFU, user string) *loopback {
	return &loopback{sfu: s, user: user, inbox: make(chan signal.Message, 8192),
		closed: make(chan struct{}), stream: signal.NewStream(signal.FromClient, signal.DefaultMaxSize)}
}

func roundTrip(m signal.Message) (signal.Message, error) {
	data, err := signal.Encode(m)
	if err != nil {
		return m, err
	}
	return signal.Decode(data, signal.DefaultMaxSize)
}

func (l *loopback) Send(ctx context.Context, m signal.Message) error {
	select {
	case <-l.closed:
		return errors.New("loopback closed")
	default:
	}
	l.serial.Lock()
	defer l.serial.Unlock()
	data, err := signal.Encode(m)
	if err != nil {
		return err
	}
	l.mu.Lock()
	m, err = l.stream.Decode(data)
	p := l.p
	l.mu.Unlock()
	if err != nil {
		return l.deliver(sfu.ErrorMessage(m.ID, err))
	}
	if m.Type == signal.TypeJoin {
		p, err := l.sfu.Join(ctx, m.Room, sfu.ParticipantInfo{
			UserID: l.user, Name: m.Name, Hidden: m.Hidden, Monitor: m.Monitor,
			Guest: strings.HasPrefix(l.user, "guest"),
		}, l.deliver)
		if err != nil {
			return l.deliver(sfu.ErrorMessage(m.ID, err))
		}
		l.mu.Lock()
		l.p = p
		l.mu.Unlock()
		return nil
	}
	// Supervision messages are the node's to check and record; here they
	// go straight to the participant, as the node's connection does.
	var handled error
	switch m.Type {
	case signal.TypeReveal:
		handled = p.Reveal()
	case signal.TypeCoach:
		handled = p.Coach(m.Coaching)
	default:
		_ = p.Handle(m) // failures come back as error messages
		return nil
	}
	if handled != nil {
		return l.deliver(sfu.ErrorMessage(m.ID, handled))
	}
	return nil
}

func (l *loopback) deliver(m signal.Message) error {
	if l.rewrite != nil {
		m = l.rewrite(m)
	}
	m, err := roundTrip(m)
	if err != nil {
		return err
	}
	select {
	case l.inbox <- m:
		return nil
	case <-l.closed:
		return errors.New("loopback closed")
	}
}

func (l *loopback) Recv(ctx context.Context) (signal.Message, error) {
	select {
	case m := <-l.inbox:
		return m, nil
	case <-l.closed:
		return signal.Message{}, errors.New("loopback closed")
	case <-ctx.Done():
		return signal.Message{}, ctx.Err()
	}
}

// Close is the socket closing: the participant leaves.
func (l *loopback) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.mu.Lock()
		p := l.p
		l.mu.Unlock()
		if p != nil {
			p.Leave()
		}
	})
	return nil
}

type harness struct {
	t    *testing.T
	sfu  *sfu.SFU
	auth *authz
	reg  *prometheus.Registry
	udp  net.Addr
}

// startSFU starts an SFU on 127.0.0.1 with one UDP and one TCP port, and
// checks at the end of the test that every goroutine has ended.
func startSFU(t *testing.T, opts ...func(*sfu.Config)) *harness {
	t.Helper()
	before := runtime.NumGoroutine()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, auth: &authz{}, reg: prometheus.NewRegistry(), udp: conn.LocalAddr()}
	cfg := sfu.Config{UDPConn: conn, TCPListener: ln, Authorizer: h.auth, Registerer: h.reg, Logger: testLogger()}
	for _, o := range opts {
		o(&cfg)
	}
	h.sfu, err = sfu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.sfu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.sfu.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		// pion ends some goroutines a moment after Close returns.
		testutil.Eventually(t, 10*time.Second, "goroutines to end after shutdown", func() bool {
			return runtime.NumGoroutine() <= before
		})
	})
	return h
}

// join connects a new client as user to room.
func (h *harness) join(user, room string, opts client.JoinOptions) *client.Client {
	h.t.Helper()
	c, err := h.connect(user)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Join(ctx, room, opts); err != nil {
		h.t.Fatalf("%s joins %s: %v", user, room, err)
	}
	return c
}

func (h *harness) connect(user string) (*client.Client, error) {
	c, err := client.New(client.Config{Name: user, LoopbackOnly: true, Logger: testLogger()}, newLoopback(h.sfu, user))
	if err != nil {
		return nil, err
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

func (h *harness) publish(c *client.Client, specs ...client.TrackSpec) []*client.Publication {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pubs, err := c.Publish(ctx, specs...)
	if err != nil {
		h.t.Fatalf("publish: %v", err)
	}
	return pubs
}

// testLogger logs to stderr when SFU_LOG is set, else nowhere.
func testLogger() *slog.Logger {
	if os.Getenv("SFU_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// trackOf waits for c to receive a track of kind from participant pid.
func trackOf(t *testing.T, c *client.Client, pid, kind string) *client.Received {
	t.Helper()
	var found *client.Received
	testutil.Eventually(t, 10*time.Second, kind+" track from "+pid, func() bool {
		for _, r := range c.Tracks() {
			if r.Participant == pid && r.Kind == kind && r.Stats().Unique > 0 {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

func next(t *testing.T, c *client.Client, what string, match func(signal.Message) bool) signal.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.Next(ctx, match)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return m
}

func isType(tp signal.Type) func(signal.Message) bool {
	return func(m signal.Message) bool { return m.Type == tp }
}

// metric sums the samples of the named series in h's registry.
func (h *harness) metric(name string) float64 {
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				total += m.Counter.GetValue()
			case m.Gauge != nil:
				total += m.Gauge.GetValue()
			}
		}
	}
	return total
}
