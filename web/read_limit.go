package web

import (
	"sync"
	"time"
)

// readLimiter is a token bucket per user for linearizable reads: each one
// writes a barrier entry to the Raft log at the leader, so one user must
// not be able to flood the log with them. A bucket holds up to burst
// reads and refills at perSecond; a perSecond of 0 sets no limit.
type readLimiter struct {
	perSecond float64
	burst     float64
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newReadLimiter(perSecond, burst int, now func() time.Time) *readLimiter {
	return &readLimiter{perSecond: float64(perSecond), burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// take spends one read of key's budget; when none is left it says how long
// until there is one.
func (l *readLimiter) take(key string) (wait time.Duration, ok bool) {
	if l.perSecond <= 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= 100_000 {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.perSecond)
		b.at = now
	}
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second)), false
	}
	b.tokens--
	return 0, true
}

// sweep drops the buckets that have refilled, which are as good as new.
func (l *readLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.perSecond >= l.burst {
			delete(l.buckets, k)
		}
	}
}
