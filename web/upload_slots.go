package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// uploadSlots bounds the uploads received at once
// (media.max_concurrent_uploads). An upload takes a slot once its caller
// is authenticated and allowed, and keeps it until its bytes are stored or
// refused.
type uploadSlots chan struct{}

func newUploadSlots(n int) uploadSlots {
	if n <= 0 {
		return nil
	}
	return make(uploadSlots, n)
}

// acquire takes a slot, or refuses with 503 when none is free; release
// gives it back. A nil uploadSlots is unbounded.
func (u uploadSlots) acquire() (release func(), err error) {
	if u == nil {
		return func() {}, nil
	}
	select {
	case u <- struct{}{}:
		return func() { <-u }, nil
	default:
		return nil, &Error{Status: fiber.StatusServiceUnavailable, Code: "busy",
			Message: fmt.Sprintf("the node is receiving %d uploads, its limit (media.max_concurrent_uploads): try again in a moment", cap(u))}
	}
}
