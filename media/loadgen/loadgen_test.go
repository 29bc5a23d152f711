package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/media/client"
	"siteline/media/sfu"
	"siteline/media/signal"
)

type allowAll struct{}

func (allowAll) Check(string, string) error { return nil }

// inProcess is a Server backed by an SFU in the test's process, each
// participant's signaling a direct connection to it.
type inProcess struct{ sfu *sfu.SFU }

func (s inProcess) Room(_ context.Context, r int) (string, error) {
	return fmt.Sprintf("room-%d", r), nil
}

func (s inProcess) Dial(_ context.Context, _, name string, _ bool) (client.Signaler, error) {
	return &direct{sfu: s.sfu, user: name, inbox: make(chan signal.Message, 1024), closed: make(chan struct{})}, nil
}

// direct hands the client's messages to the SFU and queues its replies.
type direct struct {
	sfu    *sfu.SFU
	user   string
	inbox  chan signal.Message
	closed chan struct{}
	once   sync.Once

	mu sync.Mutex
	p  *sfu.Participant
}

func (d *direct) Send(ctx context.Context, m signal.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m.Type != signal.TypeJoin {
		if d.p == nil {
			return errors.New("not joined")
		}
		_ = d.p.Handle(m) // failures come back as error messages
		return nil
	}
	p, err := d.sfu.Join(ctx, m.Room, sfu.ParticipantInfo{UserID: d.user, Name: m.Name}, d.deliver)
	if err != nil {
		return d.deliver(sfu.ErrorMessage(m.ID, err))
	}
	d.p = p
	return nil
}

func (d *direct) deliver(m signal.Message) error {
	select {
	case d.inbox <- m:
		return nil
	case <-d.closed:
		return errors.New("closed")
	}
}

func (d *direct) Recv(ctx context.Context) (signal.Message, error) {
	select {
	case m := <-d.inbox:
		return m, nil
	case <-d.closed:
		return signal.Message{}, errors.New("closed")
	case <-ctx.Done():
		return signal.Message{}, ctx.Err()
	}
}

func (d *direct) Close() error {
	d.once.Do(func() {
		close(d.closed)
		d.mu.Lock()
		p := d.p
		d.mu.Unlock()
		if p != nil {
			p.Leave()
		}
	})
	return nil
}

// TestRun runs a small room through a pluggable Server and checks that
// every figure is printed, the server's from this process's /proc.
func TestRun(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sfu.New(sfu.Config{UDPConn: conn, Authorizer: allowAll{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	o := Options{Rooms: 1, Subs: 2, Duration: time.Second, PID: os.Getpid(), VideoKbps: 100, Parallel: 2, Loopback: true}
	res, err := Run(context.Background(), inProcess{s}, o)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.sum.Tracks != 4 || res.sum.Mbps() <= 0 {
		t.Errorf("forwarded %.2f Mbit/s over %d tracks, want 4 tracks", res.sum.Mbps(), res.sum.Tracks)
	}
	if len(res.firstRTP) != 2 {
		t.Errorf("first RTP of %d subscribers, want 2", len(res.firstRTP))
	}
	var out bytes.Buffer
	res.Print(&out)
	for _, line := range []string{"forwarded Mbit/s", "added latency p50/p99", "join to first video RTP", "server CPU s/Mbit", "server RSS/subscriber"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("no %q in\n%s", line, out.String())
		}
	}
}
