package sfu

import (
	"fmt"
	"time"
)

// bucket is a token bucket: up to burst messages at once, refilled at rate
// a second. It is used under the participant's handleMu.
type bucket struct {
	what   string // what it limits, for the refusal: "chat messages"
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(what string, rate float64, burst int) *bucket {
	return &bucket{what: what, rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// take spends a token at now, or refuses with ErrLimit naming the limit.
func (b *bucket) take(now time.Time) error {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return fmt.Errorf("too many %s: at most %g a second (bursts of %g); this one was dropped: %w",
			b.what, b.rate, b.burst, ErrLimit)
	}
	b.tokens--
	return nil
}
