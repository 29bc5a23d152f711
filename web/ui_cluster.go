package web

import (
	"github.com/gofiber/fiber/v2"
)

// uiCluster shows every node of the federation.
func (s *Server) uiCluster(c *fiber.Ctx) error {
	st, err := s.deps.Cluster.Status(c.UserContext())
	if err != nil {
		return err
	}
	v := s.view(c, "Federation", "cluster")
	v.Data = st
	return s.ui.render(c, fiber.StatusOK, "cluster", v)
}
