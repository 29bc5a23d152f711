package org

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"siteline/node/internal/ids"
	"siteline/storage"
	"siteline/web"
)

func (s *Service) PutLabelGroup(ctx context.Context, a web.Actor, g storage.LabelGroup) (storage.LabelGroup, error) {
	g.OrgID = a.OrgID
	g.Name = strings.TrimSpace(g.Name)
	g.Color = strings.ToLower(g.Color)
	if err := checkName("name", g.Name); err != nil {
		return g, err
	}
	if !storage.ValidColor(g.Color) {
		return g, validation("color", fmt.Sprintf("%q is not a colour of the form #rrggbb", g.Color))
	}
	action := "labelgroup.update"
	if g.ID == "" {
		g.ID, action = ids.New(), "labelgroup.create"
	} else if _, err := s.labelGroup(ctx, a, g.ID); err != nil {
		return g, err
	}
	return g, s.commit(ctx, a, entry{action, g.ID, g},
		storage.Change{Op: storage.OpPutLabelGroup, LabelGroup: &g, Existing: action == "labelgroup.update"})
}

func (s *Service) DeleteLabelGroup(ctx context.Context, a web.Actor, id string) error {
	g, err := s.labelGroup(ctx, a, id)
	if err != nil {
		return err
	}
	return s.commit(ctx, a, entry{"labelgroup.delete", id, g}, storage.Change{Op: storage.OpDelLabelGroup, ID: id})
}

func (s *Service) PutLabel(ctx context.Context, a web.Actor, l storage.Label) (storage.Label, error) {
	l.OrgID = a.OrgID
	l.Name = strings.TrimSpace(l.Name)
	if err := checkName("name", l.Name); err != nil {
		return l, err
	}
	if l.GroupID == "" {
		return l, validation("group_id", "is required")
	}
	if _, err := s.labelGroup(ctx, a, l.GroupID); err != nil {
		return l, validation("group_id", fmt.Sprintf("%q is not a label group of this organisation", l.GroupID))
	}
	action := "label.update"
	if l.ID == "" {
		l.ID, action = ids.New(), "label.create"
	} else if _, err := s.label(ctx, a, l.ID); err != nil {
		return l, err
	}
	return l, s.commit(ctx, a, entry{action, l.ID, l},
		storage.Change{Op: storage.OpPutLabel, Label: &l, Existing: action == "label.update"})
}

func (s *Service) DeleteLabel(ctx context.Context, a web.Actor, id string) error {
	l, err := s.label(ctx, a, id)
	if err != nil {
		return err
	}
	return s.commit(ctx, a, entry{"label.delete", id, l}, storage.Change{Op: storage.OpDelLabel, ID: id})
}

func (s *Service) PutContact(ctx context.Context, a web.Actor, c storage.Contact) (storage.Contact, error) {
	c.OrgID = a.OrgID
	c, err := checkContact(c)
	if err != nil {
		return c, err
	}
	if c.UserID != "" {
		if _, err := inOrg(ctx, a, "user", c.UserID, s.d.Store.User); err != nil {
			return c, validation("user_id", fmt.Sprintf("%q is not a user of this organisation", c.UserID))
		}
	}
	action := "contact.update"
	if c.ID == "" {
		c.ID, c.CreatedAt, action = ids.New(), s.d.Now().UTC(), "contact.create"
	} else {
		old, err := inOrg(ctx, a, "contact", c.ID, s.d.Store.Contact)
		if err != nil {
			return c, err
		}
		c.CreatedAt = old.CreatedAt
	}
	return c, s.commit(ctx, a, entry{action, c.ID, map[string]string{"name": c.Name}},
		storage.Change{Op: storage.OpPutContact, Contact: &c, Existing: action == "contact.update"})
}

// checkContact normalises a contact's fields or names the first bad one.
func checkContact(c storage.Contact) (storage.Contact, error) {
	c.Name = strings.TrimSpace(c.Name)
	if err := checkName("name", c.Name); err != nil {
		return c, err
	}
	if c.Email != "" {
		var err error
		if c.Email, err = normEmail("email", c.Email); err != nil {
			return c, err
		}
	}
	if c.Phone = strings.TrimSpace(c.Phone); c.Phone != "" && !phoneRE.MatchString(c.Phone) {
		return c, validation("phone", fmt.Sprintf("%q is not a phone number (digits, spaces, + - ( ) only)", c.Phone))
	}
	for field, v := range map[string]string{"company": c.Company, "notes": c.Notes} {
		if len(v) > 2000 {
			return c, validation(field, "must be at most 2000 bytes")
		}
	}
	return c, nil
}

var phoneRE = regexp.MustCompile(`^\+?[0-9 ()\-./]{3,32}$`)

func (s *Service) DeleteContact(ctx context.Context, a web.Actor, id string) error {
	c, err := inOrg(ctx, a, "contact", id, s.d.Store.Contact)
	if err != nil {
		return err
	}
	return s.commit(ctx, a, entry{"contact.delete", id, map[string]string{"name": c.Name}},
		storage.Change{Op: storage.OpDelContact, ID: id})
}

// SetUserLabels replaces the labels applied to a user of the actor's
// organisation.
func (s *Service) SetUserLabels(ctx context.Context, a web.Actor, userID string, labelIDs []string) error {
	u, err := inOrg(ctx, a, "user", userID, s.d.Store.User)
	if err != nil {
		return err
	}
	labels, err := s.d.Store.Labels(ctx, a.OrgID)
	if err != nil {
		return err
	}
	var set []string
	for _, id := range labelIDs {
		if id == "" || slices.Contains(set, id) {
			continue
		}
		if !slices.ContainsFunc(labels, func(l storage.Label) bool { return l.ID == id }) {
			return validation("labels", fmt.Sprintf("%q is not a label of this organisation", id))
		}
		set = append(set, id)
	}
	return s.commit(ctx, a, entry{"user.labels", u.ID, map[string]any{"labels": set}},
		storage.Change{Op: storage.OpSetUserLabels, ID: u.ID, LabelIDs: set})
}
