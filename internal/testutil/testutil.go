// Package testutil holds what the project's tests share: the marker that
// keeps system tests out of the fast tier, polling with a deadline, and a
// log that is shown only when a test fails. It imports nothing of the
// project, so the tests of every package may use it.
package testutil

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// System marks t as a system test: one that starts several nodes, a
// process, a browser, or a whole node with its Raft election and password
// hashing, or that streams media for seconds. `go test -short` skips it, so
// the unit tier stays fast; the full suite runs it.
func System(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("system test: runs without -short")
	}
}

// Eventually polls cond until it holds and returns how long that took; it
// fails the test when within passes first.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// Log collects what a component logs during a test and prints it only if
// the test fails, so a passing run stays quiet and a failing one shows what
// was said.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// NewLog returns an empty log printed at the end of t if t failed.
func NewLog(t testing.TB) *Log {
	l := &Log{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", l.String())
		}
	})
	return l
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Logger returns a debug-level text logger writing to l.
func (l *Log) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
