package web

import (
	"fmt"
	"sync"
	"time"
)

// TooManyError refuses a login while an account or address is over its
// failure budget; it says when to try again.
type TooManyError struct {
	What       string // "account" or "address"
	RetryAfter time.Duration
}

func (e *TooManyError) Error() string {
	return fmt.Sprintf("too many failed logins for this %s: try again in %s", e.What, e.RetryAfter.Round(time.Second))
}

// loginLimiter counts failed logins per account and per address in a
// fixed window. A success clears the account's count, not the address's.
type loginLimiter struct {
	perAccount, perAddress int
	window                 time.Duration
	now                    func() time.Time

	mu       sync.Mutex
	failures map[string]*failureWindow
}

type failureWindow struct {
	start time.Time
	count int
}

func newLoginLimiter(perAccount, perAddress int, window time.Duration, now func() time.Time) *loginLimiter {
	return &loginLimiter{
		perAccount: perAccount, perAddress: perAddress, window: window, now: now,
		failures: map[string]*failureWindow{},
	}
}

func (l *loginLimiter) allow(account, address string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range []struct {
		what, key string
		limit     int
	}{{"account", "a:" + account, l.perAccount}, {"address", "i:" + address, l.perAddress}} {
		w := l.failures[k.key]
		if w == nil || now.Sub(w.start) >= l.window {
			continue
		}
		if w.count >= k.limit {
			return &TooManyError{What: k.what, RetryAfter: w.start.Add(l.window).Sub(now)}
		}
	}
	return nil
}

func (l *loginLimiter) fail(account, address string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, key := range []string{"a:" + account, "i:" + address} {
		w := l.failures[key]
		if w == nil || now.Sub(w.start) >= l.window {
			w = &failureWindow{start: now}
			l.failures[key] = w
		}
		w.count++
	}
	if len(l.failures) > 100_000 {
		l.sweep(now)
	}
}

func (l *loginLimiter) succeed(account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, "a:"+account)
}

// sweep drops finished windows so an attacker cycling names cannot grow the
// map without bound.
func (l *loginLimiter) sweep(now time.Time) {
	for k, w := range l.failures {
		if now.Sub(w.start) >= l.window {
			delete(l.failures, k)
		}
	}
}
