package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"siteline/storage"
)

// stuckBarrier never vouches for a read: it waits for its caller's context,
// as a barrier does while the federation has no leader.
type stuckBarrier struct{ entered chan struct{} }

func (b stuckBarrier) ReadBarrier(ctx context.Context) error {
	close(b.entered)
	<-ctx.Done()
	return fmt.Errorf("read barrier: %w: %w", storage.ErrFederationUnreachable, ctx.Err())
}

// A request waiting on the federation when the node stops has its context
// ended halfway through the stop's time: it answers 503 and the stop ends
// in time, instead of both waiting for the federation until the deadline.
func TestShutdownEndsRequestsStillWaitingHalfway(t *testing.T) {
	entered := make(chan struct{})
	s, _, admin, _ := loggedIn(t, func(d *Deps) { d.Barrier = stuckBarrier{entered: entered} })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	type result struct {
		status int
		err    error
	}
	answered := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+APIPrefix+"/teams", nil)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: admin.cookie})
		req.Header.Set(ReadHeader, ReadLinearizable)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- result{err: err}
			return
		}
		resp.Body.Close()
		answered <- result{status: resp.StatusCode}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the read never reached the barrier")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("shutdown returned only once its context had ended")
	}
	got := <-answered
	if got.err != nil || got.status != http.StatusServiceUnavailable {
		t.Fatalf("the waiting read got %d, %v; want 503", got.status, got.err)
	}
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("serve: %v", err)
	}
}

// A client that sent half a request when the node stops does not hold the
// stop until the read timeout: its connection is closed once the grace has
// passed, and the stop ends before its deadline.
func TestShutdownClosesConnectionsReadingAHalfRequest(t *testing.T) {
	s, _, _, _ := loggedIn(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// The server accepts connections in turn: once a second one has been
	// answered, the first is the server's.
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v (the half-read connection held the stop)", err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a connection the stop should have closed", n)
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the connection is still open after the stop")
	}
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("serve: %v", err)
	}
}

// A Serve that starts as the node stops (its goroutine scheduled after
// Shutdown) returns instead of accepting for ever: fasthttp's shutdown
// closes only the listeners it has registered.
func TestServeAfterShutdownReturns(t *testing.T) {
	s, _, _, _ := loggedIn(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve after shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve after Shutdown still accepts")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("the listener given to Serve after Shutdown still accepts connections")
	}
}
