package testutil

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatal records a Fatalf and ends the goroutine, as testing.T does.
type fatal struct {
	testing.TB
	msg string
}

func (f *fatal) Helper() {}

func (f *fatal) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	polls := 0
	Eventually(t, 5*time.Second, "third poll", func() bool {
		polls++
		return polls == 3
	})
	if polls != 3 {
		t.Fatalf("polled %d times, want 3", polls)
	}
}

func TestEventuallyFailsAfterTheDeadline(t *testing.T) {
	f := &fatal{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Eventually(f, 20*time.Millisecond, "never", func() bool { return false })
	}()
	<-done
	if !strings.Contains(f.msg, "never: not within 20ms") {
		t.Fatalf("failure %q does not name the condition and the deadline", f.msg)
	}
}

func TestLogKeepsWhatWasLogged(t *testing.T) {
	l := NewLog(t)
	l.Logger().Debug("hello", "who", "plant")
	if got := l.String(); !strings.Contains(got, "msg=hello who=plant") {
		t.Fatalf("log = %q", got)
	}
}
