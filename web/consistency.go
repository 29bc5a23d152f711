package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// ReadHeader lets an API caller choose how fresh a read must be. Without it,
// or with ReadLocal, a node answers from its own copy of the organisation
// data, which on a node other than the Raft leader may lag behind changes
// already acknowledged elsewhere. With ReadLinearizable, a GET first waits
// until this node's copy holds every change committed before the request
// (Barrier.ReadBarrier), so it sees every change acknowledged before it was
// sent, whichever node acknowledged it; when the leader cannot vouch for
// that, it answers 503 federation_unreachable instead of stale data. Each
// such read writes a barrier to the Raft log, so they are limited per user
// (Config.LinearizableReadsPerSecond, LinearizableReadBurst; 429 beyond).
const ReadHeader = "Siteline-Read"

// The values ReadHeader accepts.
const (
	ReadLocal        = "local"
	ReadLinearizable = "linearizable"
)

// Barrier makes reads linearizable.
type Barrier interface {
	// ReadBarrier waits until the node's copy of the organisation data
	// (Deps.Org) holds every change committed anywhere before the call,
	// so that reads which follow are linearizable; it returns
	// storage.ErrFederationUnreachable when the leader cannot vouch for it.
	ReadBarrier(ctx context.Context) error
}

// readConsistency honours ReadHeader on an API route: it refuses values it
// does not know and, on a GET that needs a caller, runs the read barrier
// before the handler. Changes need no barrier (they are committed through
// the leader anyway), and public routes read nothing replicated, so there
// an anonymous caller cannot make the node write a barrier to its log.
func (s *Server) readConsistency(r route) fiber.Handler {
	barrier := linearizable(r)
	return func(c *fiber.Ctx) error {
		switch v := c.Get(ReadHeader); {
		case v == "" || strings.EqualFold(v, ReadLocal):
		case strings.EqualFold(v, ReadLinearizable):
			if barrier {
				if err := s.takeRead(c); err != nil {
					return err
				}
				if err := s.deps.Barrier.ReadBarrier(c.UserContext()); err != nil {
					return err
				}
			}
		default:
			return &Error{Status: fiber.StatusBadRequest, Code: "invalid",
				Message: fmt.Sprintf("header %s: %q is not one of %q, %q", ReadHeader, v, ReadLocal, ReadLinearizable)}
		}
		return c.Next()
	}
}

// linearizable tells the routes on which ReadLinearizable runs the barrier.
func linearizable(r route) bool {
	return r.method == fiber.MethodGet && !r.public && strings.HasPrefix(r.path, APIPrefix+"/")
}

// takeRead spends one linearizable read of the caller's budget. The node's
// local operator has none to spend.
func (s *Server) takeRead(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if a.Local {
		return nil
	}
	key := a.UserID
	if key == "" {
		key = "ip:" + c.IP()
	}
	wait, ok := s.reads.take(key)
	if ok {
		return nil
	}
	retry := max(time.Second, wait.Round(time.Second))
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(retry/time.Second)))
	return &Error{Status: fiber.StatusTooManyRequests, Code: "rate_limited", Message: fmt.Sprintf(
		"too many %s: %s reads: at most %d a second (bursts of %d) per user; try again in %s, or read this node's copy without the header",
		ReadHeader, ReadLinearizable, s.cfg.LinearizableReadsPerSecond, s.cfg.LinearizableReadBurst, retry)}
}
