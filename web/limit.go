package web

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// TooManyError refuses a login before its password is checked; it says why
// and when to try again (the Retry-After of the answer).
type TooManyError struct {
	Reason     string
	RetryAfter time.Duration
}

func (e *TooManyError) Error() string {
	return fmt.Sprintf("%s: try again in %s", e.Reason, retrySeconds(e.RetryAfter)*time.Second)
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(d time.Duration) time.Duration {
	return max(1, (d+time.Second-1)/time.Second)
}

// setRetryAfter sets the Retry-After header of an answer refusing err.
func setRetryAfter(c *fiber.Ctx, err error) {
	var tm *TooManyError
	if errors.As(err, &tm) {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(retrySeconds(tm.RetryAfter))))
	}
}

// At most this many passwords of one address, and of one account, are
// hashed at the same time; a further attempt is refused at once rather
// than queued behind them (each hash takes 64 MiB and a core for a while).
const (
	hashesPerAddress = 2
	hashesPerAccount = 2
)

// loginLimiter decides, before the slow password hash, whether an attempt
// may be checked at all. An attempt is reserved (counted in flight) when it
// is let through, so concurrent attempts cannot all slip under a limit that
// is only updated once their hashes finish.
//
//   - An address may fail perAddress times per window; then it is refused
//     until the window ends.
//   - An account may fail freeFailures times; after that, attempts from
//     addresses that have failed recently wait a delay that doubles with
//     each further failure (1s, 2s, 4s... up to the window). An address
//     with no recent failure is not held by the account's delay: the real
//     user, typing the right password at their own desk, gets in while
//     others guess at the account from elsewhere.
type loginLimiter struct {
	perAddress, freeFailures int
	window                   time.Duration
	now                      func() time.Time

	mu        sync.Mutex
	addresses map[string]*addressAttempts
	accounts  map[string]*accountAttempts
}

type addressAttempts struct {
	start    time.Time // of the failure window
	failures int
	inFlight int
}

type accountAttempts struct {
	last     time.Time // of the last failure; the count is forgotten a window later
	failures int
	inFlight int
}

func newLoginLimiter(perAccount, perAddress int, window time.Duration, now func() time.Time) *loginLimiter {
	return &loginLimiter{
		perAddress: perAddress, freeFailures: perAccount, window: window, now: now,
		addresses: map[string]*addressAttempts{},
		accounts:  map[string]*accountAttempts{},
	}
}

// begin reserves an attempt of account from address, or refuses it. A
// reserved attempt must be ended with end.
func (l *loginLimiter) begin(account, address string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ad := l.address(address, now)
	switch {
	case ad.failures >= l.perAddress:
		return &TooManyError{Reason: fmt.Sprintf("too many failed logins from this address (%d)", ad.failures), RetryAfter: ad.start.Add(l.window).Sub(now)}
	case ad.inFlight >= hashesPerAddress || ad.failures+ad.inFlight >= l.perAddress:
		return &TooManyError{Reason: "other logins from this address are being checked", RetryAfter: time.Second}
	}
	ac := l.account(account, now)
	if recent := ad.failures > 0 || ad.inFlight > 0; recent {
		if ac.inFlight >= hashesPerAccount {
			return &TooManyError{Reason: "other logins to this account are being checked", RetryAfter: time.Second}
		}
		if wait := l.delay(ac).Sub(now); wait > 0 {
			return &TooManyError{Reason: fmt.Sprintf("%d failed logins to this account", ac.failures), RetryAfter: wait}
		}
	}
	ad.inFlight++
	ac.inFlight++
	return nil
}

// end releases an attempt begin let through; a failed one counts against
// the address and the account. A success clears nothing: the account's
// owner logging in must not hand a guesser a fresh allowance.
func (l *loginLimiter) end(account, address string, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ad, ac := l.address(address, now), l.account(account, now)
	ad.inFlight = max(0, ad.inFlight-1)
	ac.inFlight = max(0, ac.inFlight-1)
	if failed {
		if ad.failures == 0 {
			ad.start = now
		}
		ad.failures++
		ac.failures++
		ac.last = now
	}
	if len(l.addresses)+len(l.accounts) > 100_000 {
		l.sweep(now)
	}
}

// delay is when the account's next attempt from a suspect address may run.
func (l *loginLimiter) delay(ac *accountAttempts) time.Time {
	over := ac.failures - l.freeFailures
	if over < 0 {
		return time.Time{}
	}
	wait := l.window
	if over < 30 {
		wait = min(l.window, time.Second<<over)
	}
	return ac.last.Add(wait)
}

// address returns the address's attempts, its failures forgotten once
// their window has passed.
func (l *loginLimiter) address(key string, now time.Time) *addressAttempts {
	ad := l.addresses[key]
	if ad == nil {
		ad = &addressAttempts{start: now}
		l.addresses[key] = ad
	}
	if ad.failures > 0 && now.Sub(ad.start) >= l.window {
		ad.failures, ad.start = 0, now
	}
	return ad
}

func (l *loginLimiter) account(key string, now time.Time) *accountAttempts {
	ac := l.accounts[key]
	if ac == nil {
		ac = &accountAttempts{}
		l.accounts[key] = ac
	}
	if ac.failures > 0 && now.Sub(ac.last) >= l.window {
		ac.failures = 0
	}
	return ac
}

// sweep drops idle entries so an attacker cycling names or addresses
// cannot grow the maps without bound.
func (l *loginLimiter) sweep(now time.Time) {
	for k, ad := range l.addresses {
		if ad.inFlight == 0 && (ad.failures == 0 || now.Sub(ad.start) >= l.window) {
			delete(l.addresses, k)
		}
	}
	for k, ac := range l.accounts {
		if ac.inFlight == 0 && (ac.failures == 0 || now.Sub(ac.last) >= l.window) {
			delete(l.accounts, k)
		}
	}
}
