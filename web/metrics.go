package web

import (
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"siteline/storage"
)

// metricsHandler serves /metrics: on the admin socket to its owner, on
// the public listener only to a request bearing metrics.token, and not at
// all there while no token is set. Neither a session nor an API token
// opens it: what a scraper holds is a secret of its own.
func (s *Server) metricsHandler(local bool) fiber.Handler {
	serve := adaptor.HTTPHandler(s.deps.Metrics)
	if local {
		return serve
	}
	return func(c *fiber.Ctx) error {
		if s.cfg.MetricsToken == "" {
			return &Error{Status: fiber.StatusNotFound, Code: "not_found",
				Message: "/metrics is served on the admin socket only: set metrics.token to scrape it here with Authorization: Bearer <token>"}
		}
		got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.MetricsToken)) != 1 {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return fmt.Errorf("/metrics needs Authorization: Bearer with the metrics.token of this node: %w", storage.ErrUnauthenticated)
		}
		return serve(c)
	}
}
