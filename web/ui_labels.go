package web

import (
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// Labels changes label groups and labels (the API's handlers are in
// api.go).
type Labels interface {
	// PutLabelGroup creates the group when g.ID is empty, else updates it.
	PutLabelGroup(ctx context.Context, a Actor, g storage.LabelGroup) (storage.LabelGroup, error)
	DeleteLabelGroup(ctx context.Context, a Actor, id string) error
	// PutLabel creates the label when l.ID is empty, else updates it.
	PutLabel(ctx context.Context, a Actor, l storage.Label) (storage.Label, error)
	DeleteLabel(ctx context.Context, a Actor, id string) error
}

type labelsData struct {
	Groups []labelGroupOut
	// Palette offers colours for new groups that read well on chips in
	// both themes.
	Palette []string
	Next    string
}

func (s *Server) uiLabels(c *fiber.Ctx) error { return s.showLabels(c, fiber.StatusOK, &formState{}) }

func (s *Server) showLabels(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	groups, err := s.labelGroups(c, a.OrgID)
	if err != nil {
		return err
	}
	palette := []string{"#0e7490", "#1d4ed8", "#7c3aed", "#be185d", "#c2410c", "#a16207", "#15803d", "#475569"}
	v := s.view(c, "Labels", "labels")
	v.Form = f
	v.Data = labelsData{Groups: groups, Palette: palette, Next: palette[len(groups)%len(palette)]}
	return s.ui.render(c, status, "labels", v)
}

// orgGroup finds a label group of the caller's organisation.
func (s *Server) orgGroup(c *fiber.Ctx, id string) (storage.LabelGroup, error) {
	a, _ := actorOf(c)
	groups, err := s.deps.Org.LabelGroups(c.UserContext(), a.OrgID)
	if err != nil {
		return storage.LabelGroup{}, err
	}
	for _, g := range groups {
		if g.ID == id {
			return g, nil
		}
	}
	return storage.LabelGroup{}, fmt.Errorf("label group %s: %w", id, storage.ErrNotFound)
}

// orgLabel finds a label of the caller's organisation.
func (s *Server) orgLabel(c *fiber.Ctx, id string) (storage.Label, error) {
	a, _ := actorOf(c)
	labels, err := s.deps.Org.Labels(c.UserContext(), a.OrgID)
	if err != nil {
		return storage.Label{}, err
	}
	for _, l := range labels {
		if l.ID == id {
			return l, nil
		}
	}
	return storage.Label{}, fmt.Errorf("label %s: %w", id, storage.ErrNotFound)
}

func (s *Server) uiCreateGroup(c *fiber.Ctx) error {
	f := readForm(c, "group", "name", "color")
	a, _ := actorOf(c)
	g, err := s.deps.Labels.PutLabelGroup(c.UserContext(), a, storage.LabelGroup{OrgID: a.OrgID, Name: f.V("name"), Color: f.V("color")})
	if err != nil {
		return failed(c, f, err, s.showLabels)
	}
	return done(c, "/labels#g-"+g.ID, fmt.Sprintf("Created label group %s.", g.Name))
}

func (s *Server) uiUpdateGroup(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgGroup(c, id); err != nil {
		return err
	}
	f := readForm(c, "group:"+id, "name", "color")
	a, _ := actorOf(c)
	g, err := s.deps.Labels.PutLabelGroup(c.UserContext(), a, storage.LabelGroup{ID: id, OrgID: a.OrgID, Name: f.V("name"), Color: f.V("color")})
	if err != nil {
		return failed(c, f, err, s.showLabels)
	}
	return done(c, "/labels#g-"+id, fmt.Sprintf("Saved label group %s.", g.Name))
}

func (s *Server) uiDeleteGroup(c *fiber.Ctx) error {
	id := param(c, "id")
	g, err := s.orgGroup(c, id)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Labels.DeleteLabelGroup(c.UserContext(), a, id); err != nil {
		return failed(c, &formState{Name: "group:" + id}, err, s.showLabels)
	}
	return done(c, "/labels", fmt.Sprintf("Deleted label group %s and its labels.", g.Name))
}

func (s *Server) uiCreateLabel(c *fiber.Ctx) error {
	f := readForm(c, "", "group_id", "name")
	f.Name = "label:" + f.V("group_id")
	if _, err := s.orgGroup(c, f.V("group_id")); err != nil {
		return err
	}
	a, _ := actorOf(c)
	l, err := s.deps.Labels.PutLabel(c.UserContext(), a, storage.Label{OrgID: a.OrgID, GroupID: f.V("group_id"), Name: f.V("name")})
	if err != nil {
		return failed(c, f, err, s.showLabels)
	}
	return done(c, "/labels#g-"+l.GroupID, fmt.Sprintf("Added label %s.", l.Name))
}

func (s *Server) uiUpdateLabel(c *fiber.Ctx) error {
	id := param(c, "id")
	old, err := s.orgLabel(c, id)
	if err != nil {
		return err
	}
	f := readForm(c, "labeledit:"+id, "name", "group_id")
	group := f.V("group_id")
	if group == "" {
		group = old.GroupID
	} else if _, err := s.orgGroup(c, group); err != nil {
		return err
	}
	a, _ := actorOf(c)
	l, err := s.deps.Labels.PutLabel(c.UserContext(), a, storage.Label{ID: id, OrgID: a.OrgID, GroupID: group, Name: f.V("name")})
	if err != nil {
		return failed(c, f, err, s.showLabels)
	}
	return done(c, "/labels#g-"+l.GroupID, fmt.Sprintf("Saved label %s.", l.Name))
}

func (s *Server) uiDeleteLabel(c *fiber.Ctx) error {
	id := param(c, "id")
	l, err := s.orgLabel(c, id)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Labels.DeleteLabel(c.UserContext(), a, id); err != nil {
		return failed(c, &formState{Name: "label:" + l.GroupID}, err, s.showLabels)
	}
	return done(c, "/labels#g-"+l.GroupID, fmt.Sprintf("Deleted label %s.", l.Name))
}

// ---- contacts ----------------------------------------------------------
