package web

import (
	"errors"
	"testing"
	"time"
)

// Items 1 and 9 of issue 13, at the limiter: attempts are reserved before
// they are checked, the account's delay doubles and ends, and an address
// without failures is not held by it.
func TestLoginLimiterReservesAndDelays(t *testing.T) {
	now := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	l := newLoginLimiter(2, 5, 15*time.Minute, func() time.Time { return now })
	wait := func(err error) time.Duration {
		t.Helper()
		var tm *TooManyError
		if !errors.As(err, &tm) {
			t.Fatalf("err = %v, want *TooManyError", err)
		}
		return tm.RetryAfter
	}

	// Reserved, not yet failed: a third concurrent attempt from the same
	// address is refused at once.
	for i := 0; i < hashesPerAddress; i++ {
		if err := l.begin("ann", "a"); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if d := wait(l.begin("ann", "a")); d != time.Second {
		t.Errorf("attempt beyond the in-flight bound waits %s, want 1s", d)
	}
	l.end("ann", "a", true)
	l.end("ann", "a", true)

	// Two free failures, then 1s, 2s, 4s from the failing address.
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if d := wait(l.begin("ann", "a")); d != want {
			t.Errorf("delay = %s, want %s", d, want)
		}
		if err := l.begin("ann", "b"); err != nil {
			t.Errorf("an address without failures is held: %v", err)
		} else {
			l.end("ann", "b", false)
		}
		now = now.Add(want)
		if err := l.begin("ann", "a"); err != nil {
			t.Fatalf("after the delay: %v", err)
		}
		l.end("ann", "a", true)
	}

	// The address's own budget (5 failures) is a hard stop for its window.
	if d := wait(l.begin("bob", "a")); d <= time.Minute {
		t.Errorf("address over its budget waits %s, want the rest of its window", d)
	}
	now = now.Add(15 * time.Minute)
	if err := l.begin("bob", "a"); err != nil {
		t.Errorf("after the window: %v", err)
	}
}
