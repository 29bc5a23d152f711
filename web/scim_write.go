package web

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// SCIM's writes: users created, replaced, patched and deleted; groups
// (teams) created, patched and deleted.

func (s *Server) scimGetUser(c *fiber.Ctx, a Actor) error {
	u, err := s.deps.Org.User(c.UserContext(), a.OrgID, param(c, "id"))
	if err != nil {
		return err
	}
	out, err := s.scimUserOut(c, u)
	if err != nil {
		return err
	}
	return scimJSON(c, fiber.StatusOK, out)
}

func (s *Server) scimCreateUser(c *fiber.Ctx, a Actor) error {
	var in scimUser
	if err := scimBody(c, &in); err != nil {
		return err
	}
	if in.email() == "" {
		return scimBad("invalidValue", "userName is required: the user's e-mail address")
	}
	active := in.Active == nil || *in.Active
	u, err := s.deps.SCIM.CreateProvisionedUser(c.UserContext(), a, in.email(), in.name(), active)
	if err != nil {
		return err
	}
	out, err := s.scimUserOut(c, u)
	if err != nil {
		return err
	}
	return scimJSON(c, fiber.StatusCreated, out)
}

func (s *Server) scimPutUser(c *fiber.Ctx, a Actor) error {
	var in scimUser
	if err := scimBody(c, &in); err != nil {
		return err
	}
	p := UserPatch{}
	if email := in.email(); email != "" {
		p.Email = &email
	}
	if name := in.name(); name != "" {
		p.Name = &name
	}
	if in.Active != nil {
		p.Active = in.Active
	}
	return s.scimUpdate(c, a, p)
}

func (s *Server) scimUpdate(c *fiber.Ctx, a Actor, p UserPatch) error {
	u, err := s.deps.Users.UpdateUser(c.UserContext(), a, param(c, "id"), p)
	if err != nil {
		return err
	}
	out, err := s.scimUserOut(c, u)
	if err != nil {
		return err
	}
	return scimJSON(c, fiber.StatusOK, out)
}

func (s *Server) scimDeleteUser(c *fiber.Ctx, a Actor) error {
	if err := s.deps.SCIM.DeleteUser(c.UserContext(), a, param(c, "id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// patchOp is RFC 7644 §3.5.2's PATCH body.
type patchOp struct {
	Schemas    []string `json:"schemas"`
	Operations []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	} `json:"Operations"`
}

func readPatch(c *fiber.Ctx) (patchOp, error) {
	var p patchOp
	if err := scimBody(c, &p); err != nil {
		return p, err
	}
	if len(p.Operations) == 0 {
		return p, scimBad("invalidSyntax", "Operations is empty")
	}
	for i, op := range p.Operations {
		switch strings.ToLower(op.Op) {
		case "add", "replace", "remove":
			p.Operations[i].Op = strings.ToLower(op.Op)
		default:
			return p, scimBad("invalidSyntax", "operation %d: op %q is not add, replace or remove", i, op.Op)
		}
	}
	return p, nil
}

// scimBool reads a boolean, also written as a string ("False"), as some
// identity providers send it.
func scimBool(raw json.RawMessage) (bool, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		if v, err := strconv.ParseBool(strings.ToLower(str)); err == nil {
			return v, nil
		}
	}
	return false, scimBad("invalidValue", "%s is not a boolean", raw)
}

func scimString(raw json.RawMessage) (string, error) {
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return "", scimBad("invalidValue", "%s is not a string", raw)
	}
	return str, nil
}

func (s *Server) scimPatchUser(c *fiber.Ctx, a Actor) error {
	p, err := readPatch(c)
	if err != nil {
		return err
	}
	var up UserPatch
	set := func(path string, raw json.RawMessage) error {
		switch strings.ToLower(path) {
		case "active":
			v, err := scimBool(raw)
			up.Active = &v
			return err
		case "username", `emails[type eq "work"].value`, "emails[primary eq true].value":
			v, err := scimString(raw)
			up.Email = &v
			return err
		case "displayname", "name.formatted":
			v, err := scimString(raw)
			up.Name = &v
			return err
		case "externalid", "name.givenname", "name.familyname", "title", "preferredlanguage", "locale":
			return nil // not kept by Siteline
		}
		return &scimError{status: fiber.StatusBadRequest, scimType: "invalidPath", detail: fmt.Sprintf("path %q cannot be changed", path)}
	}
	for _, op := range p.Operations {
		if op.Op == "remove" {
			return &scimError{status: fiber.StatusBadRequest, scimType: "mutability", detail: fmt.Sprintf("%q cannot be removed from a user", op.Path)}
		}
		if op.Path != "" {
			if err := set(op.Path, op.Value); err != nil {
				return err
			}
			continue
		}
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(op.Value, &attrs); err != nil {
			return scimBad("invalidValue", "an operation without path needs an object value")
		}
		for k, v := range attrs {
			if k == "name" {
				var n scimName
				if json.Unmarshal(v, &n) == nil && n.Formatted != "" {
					up.Name = &n.Formatted
				}
				continue
			}
			if err := set(k, v); err != nil {
				return err
			}
		}
	}
	return s.scimUpdate(c, a, up)
}

func (s *Server) scimGetGroup(c *fiber.Ctx, a Actor) error {
	g, err := s.scimGroupOut(c, a.OrgID, param(c, "id"))
	if err != nil {
		return err
	}
	return scimJSON(c, fiber.StatusOK, g)
}

func (s *Server) scimCreateGroup(c *fiber.Ctx, a Actor) error {
	var in scimGroup
	if err := scimBody(c, &in); err != nil {
		return err
	}
	t, err := s.deps.Teams.CreateTeam(c.UserContext(), a, in.DisplayName)
	if err != nil {
		return err
	}
	for _, m := range in.Members {
		if err := s.deps.Teams.SetTeamMember(c.UserContext(), a, t.ID, m.Value, storage.TeamMember); err != nil {
			return err
		}
	}
	g, err := s.scimGroupOut(c, a.OrgID, t.ID)
	if err != nil {
		return err
	}
	return scimJSON(c, fiber.StatusCreated, g)
}

func (s *Server) scimDeleteGroup(c *fiber.Ctx, a Actor) error {
	id := param(c, "id")
	if _, err := s.deps.Org.Team(c.UserContext(), a.OrgID, id); err != nil {
		return err
	}
	if err := s.deps.Teams.DeleteTeam(c.UserContext(), a, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// memberFilter reads the path `members[value eq "id"]`.
var memberFilter = regexp.MustCompile(`(?i)^members\[value eq "([^"]+)"\]$`)

func (s *Server) scimPatchGroup(c *fiber.Ctx, a Actor) error {
	p, err := readPatch(c)
	if err != nil {
		return err
	}
	ctx, id := c.UserContext(), param(c, "id")
	cur, err := s.deps.Org.TeamWithMembers(ctx, a.OrgID, id)
	if err != nil {
		return err
	}
	members := func(raw json.RawMessage) ([]string, error) {
		var vs []scimValue
		if err := json.Unmarshal(raw, &vs); err != nil {
			return nil, scimBad("invalidValue", "members must be a list of {\"value\": user id}")
		}
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.Value)
		}
		return ids, nil
	}
	add := func(ids []string) error {
		for _, u := range ids {
			if err := s.deps.Teams.SetTeamMember(ctx, a, id, u, storage.TeamMember); err != nil {
				return err
			}
		}
		return nil
	}
	remove := func(ids []string) error {
		for _, u := range ids {
			if err := s.deps.Teams.RemoveTeamMember(ctx, a, id, u); err != nil {
				return err
			}
		}
		return nil
	}
	for _, op := range p.Operations {
		path := strings.ToLower(op.Path)
		switch {
		case op.Op == "remove" && memberFilter.MatchString(op.Path):
			err = remove([]string{memberFilter.FindStringSubmatch(op.Path)[1]})
		case path == "members" && op.Op == "add":
			var ids []string
			if ids, err = members(op.Value); err == nil {
				err = add(ids)
			}
		case path == "members" && op.Op == "remove":
			var ids []string
			if len(op.Value) == 0 {
				for _, m := range cur.Members {
					ids = append(ids, m.UserID)
				}
			} else if ids, err = members(op.Value); err != nil {
				return err
			}
			err = remove(ids)
		case path == "members" && op.Op == "replace":
			var ids []string
			if ids, err = members(op.Value); err != nil {
				return err
			}
			var old []string
			for _, m := range cur.Members {
				old = append(old, m.UserID)
			}
			if err = remove(minusIDs(old, ids)); err == nil {
				err = add(minusIDs(ids, old))
			}
		case path == "displayname" && op.Op != "remove":
			var name string
			if name, err = scimString(op.Value); err == nil {
				_, err = s.deps.Teams.RenameTeam(ctx, a, id, name)
			}
		case path == "" && op.Op != "remove":
			var attrs struct {
				DisplayName string `json:"displayName"`
			}
			if json.Unmarshal(op.Value, &attrs) != nil || attrs.DisplayName == "" {
				return scimBad("invalidValue", "an operation without path needs {\"displayName\": ...}")
			}
			_, err = s.deps.Teams.RenameTeam(ctx, a, id, attrs.DisplayName)
		default:
			return &scimError{status: fiber.StatusBadRequest, scimType: "invalidPath", detail: fmt.Sprintf("%s of path %q is not supported on a group", op.Op, op.Path)}
		}
		if err != nil {
			return err
		}
	}
	g, err := s.scimGroupOut(c, a.OrgID, id)
	if err != nil {
		return err
	}
	return scimJSON(c, fiber.StatusOK, g)
}

// minusIDs returns the ids of a not in b.
func minusIDs(a, b []string) []string {
	var out []string
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}
