package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// SCIM 2.0 (RFC 7643, RFC 7644): the organisation's identity provider
// creates, updates, deactivates and deletes members, and keeps their
// teams (SCIM Groups), with the organisation's bearer token. Deactivating
// or deleting a member ends their sessions at every node.

// SCIM is the token check and the user changes SCIM needs besides Users
// and Teams, which it calls as Actor (the "scim" service).
type SCIM interface {
	CheckSCIMToken(ctx context.Context, orgID, secret string) error
	// NewSCIMToken replaces the organisation's token; the secret is
	// returned once.
	NewSCIMToken(ctx context.Context, a Actor) (string, error)
	CreateProvisionedUser(ctx context.Context, a Actor, email, name string, active bool) (storage.User, error)
	DeleteUser(ctx context.Context, a Actor, id string) error
	// Actor is who SCIM's changes in orgID are made by.
	Actor(orgID string) Actor
}

const (
	scimUserSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	scimListSchema  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	scimErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
	scimPatchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimMaxCount    = 200
)

func (s *Server) scimRoutes() []route {
	p := "/scim/v2/:org"
	r := func(method, path, summary string, h func(*fiber.Ctx, Actor) error) route {
		return route{method: method, path: p + path, public: true, bearer: true, summary: "SCIM 2.0: " + summary, handler: s.scim(h)}
	}
	return []route{
		r("GET", "/Users", "list users (filter userName eq, startIndex, count)", s.scimListUsers),
		r("POST", "/Users", "create a user", s.scimCreateUser),
		r("GET", "/Users/:id", "one user", s.scimGetUser),
		r("PUT", "/Users/:id", "replace a user's name, e-mail and active state", s.scimPutUser),
		r("PATCH", "/Users/:id", "change a user (PatchOp: active, name, userName)", s.scimPatchUser),
		r("DELETE", "/Users/:id", "delete a user", s.scimDeleteUser),
		r("GET", "/Groups", "list teams (filter displayName eq, startIndex, count)", s.scimListGroups),
		r("POST", "/Groups", "create a team", s.scimCreateGroup),
		r("GET", "/Groups/:id", "one team with its members", s.scimGetGroup),
		r("PATCH", "/Groups/:id", "rename a team, add or remove members (PatchOp)", s.scimPatchGroup),
		r("DELETE", "/Groups/:id", "delete a team", s.scimDeleteGroup),
	}
}

// scimError is RFC 7644 §3.12's error response.
type scimError struct {
	status   int
	scimType string
	detail   string
}

func (e *scimError) Error() string { return e.detail }

func scimBad(scimType, format string, args ...any) error {
	return &scimError{status: fiber.StatusBadRequest, scimType: scimType, detail: fmt.Sprintf(format, args...)}
}

// scim checks the bearer token of the organisation, then runs h; every
// error is answered in SCIM's error format.
func (s *Server) scim(h func(*fiber.Ctx, Actor) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		orgID := param(c, "org")
		err := func() error {
			secret, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
			if !ok || secret == "" {
				return fmt.Errorf("send the organisation's SCIM token as \"Authorization: Bearer <token>\": %w", storage.ErrUnauthenticated)
			}
			if err := s.deps.SCIM.CheckSCIMToken(c.UserContext(), orgID, secret); err != nil {
				return err
			}
			return h(c, s.deps.SCIM.Actor(orgID))
		}()
		if err == nil {
			return nil
		}
		var se *scimError
		if !errors.As(err, &se) {
			se = &scimError{status: fiber.StatusInternalServerError, detail: "internal error"}
			if he := domainError(err); he != nil {
				se.status, se.detail = he.Status, he.Message
				switch he.Code {
				case "conflict":
					se.scimType = "uniqueness"
				case "invalid":
					se.scimType = "invalidValue"
				}
			} else {
				s.log.Error("scim", "path", c.Path(), "err", err)
			}
		}
		return scimJSON(c, se.status, map[string]any{"schemas": []string{scimErrorSchema},
			"status": strconv.Itoa(se.status), "scimType": se.scimType, "detail": se.detail})
	}
}

func scimJSON(c *fiber.Ctx, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, "application/scim+json")
	return c.Send(data)
}

// scimBody reads a JSON body (application/scim+json or application/json);
// attributes Siteline does not keep are ignored, as RFC 7643 allows.
func scimBody(c *fiber.Ctx, v any) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	if ct != "application/scim+json" && ct != fiber.MIMEApplicationJSON {
		return scimBad("invalidSyntax", "Content-Type must be application/scim+json, not %q", ct)
	}
	if err := json.Unmarshal(c.Body(), v); err != nil {
		return scimBad("invalidSyntax", "the body is not valid JSON: %v", err)
	}
	return nil
}

// ---- resources ---------------------------------------------------------

type scimName struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

type scimValue struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Primary bool   `json:"primary,omitempty"`
	Type    string `json:"type,omitempty"`
}

type scimMeta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location"`
}

type scimUser struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id,omitempty"`
	ExternalID  string      `json:"externalId,omitempty"`
	UserName    string      `json:"userName"`
	Name        *scimName   `json:"name,omitempty"`
	DisplayName string      `json:"displayName,omitempty"`
	Emails      []scimValue `json:"emails,omitempty"`
	Active      *bool       `json:"active,omitempty"`
	Groups      []scimValue `json:"groups,omitempty"`
	Meta        *scimMeta   `json:"meta,omitempty"`
}

type scimGroup struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id,omitempty"`
	DisplayName string      `json:"displayName"`
	Members     []scimValue `json:"members,omitempty"`
	Meta        *scimMeta   `json:"meta,omitempty"`
}

// email is the user's e-mail: the primary one listed, else the first,
// else the userName.
func (u scimUser) email() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 && u.UserName == "" {
		return u.Emails[0].Value
	}
	return u.UserName
}

func (u scimUser) name() string {
	switch {
	case u.Name != nil && u.Name.Formatted != "":
		return u.Name.Formatted
	case u.DisplayName != "":
		return u.DisplayName
	case u.Name != nil:
		return strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
	return ""
}

func (s *Server) scimBase(c *fiber.Ctx) string { return s.baseURL(c) + "/scim/v2/" + param(c, "org") }

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) scimUserOut(c *fiber.Ctx, u storage.User) (scimUser, error) {
	active := u.Active
	out := scimUser{Schemas: []string{scimUserSchema}, ID: u.ID, UserName: u.Email, DisplayName: u.Name,
		Name: &scimName{Formatted: u.Name}, Emails: []scimValue{{Value: u.Email, Primary: true, Type: "work"}}, Active: &active,
		Meta: &scimMeta{ResourceType: "User", Created: stamp(u.CreatedAt), LastModified: stamp(u.UpdatedAt), Location: s.scimBase(c) + "/Users/" + u.ID}}
	teams, err := s.deps.Org.UserTeams(c.UserContext(), u.OrgID, u.ID)
	if err != nil {
		return out, err
	}
	for _, t := range teams {
		out.Groups = append(out.Groups, scimValue{Value: t.TeamID, Display: t.TeamName})
	}
	return out, nil
}

func (s *Server) scimGroupOut(c *fiber.Ctx, orgID, id string) (scimGroup, error) {
	t, err := s.deps.Org.TeamWithMembers(c.UserContext(), orgID, id)
	if err != nil {
		return scimGroup{}, err
	}
	out := scimGroup{Schemas: []string{scimGroupSchema}, ID: t.ID, DisplayName: t.Name,
		Meta: &scimMeta{ResourceType: "Group", Created: stamp(t.CreatedAt), Location: s.scimBase(c) + "/Groups/" + t.ID}}
	for _, m := range t.Members {
		out.Members = append(out.Members, scimValue{Value: m.UserID})
	}
	return out, nil
}

// ---- listing -----------------------------------------------------------

// eqFilter reads the one filter Siteline answers: `<attr> eq "<value>"`.
var eqFilter = regexp.MustCompile(`(?i)^\s*([a-z.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$`)

func scimFilter(c *fiber.Ctx, attr string) (string, bool, error) {
	f := c.Query("filter")
	if f == "" {
		return "", false, nil
	}
	m := eqFilter.FindStringSubmatch(f)
	if m == nil || !strings.EqualFold(m[1], attr) {
		return "", false, scimBad("invalidFilter", "filter %q is not supported: only %s eq \"value\" is", f, attr)
	}
	v, err := strconv.Unquote(`"` + m[2] + `"`)
	if err != nil {
		return "", false, scimBad("invalidFilter", "filter %q: %v", f, err)
	}
	return v, true, nil
}

// page reads startIndex (1-based) and count.
func scimPage(c *fiber.Ctx) (start, count int, err error) {
	start, count = 1, scimMaxCount
	if v := c.Query("startIndex"); v != "" {
		if start, err = strconv.Atoi(v); err != nil {
			return 0, 0, scimBad("invalidValue", "startIndex %q is not a number", v)
		}
		start = max(start, 1)
	}
	if v := c.Query("count"); v != "" {
		if count, err = strconv.Atoi(v); err != nil {
			return 0, 0, scimBad("invalidValue", "count %q is not a number", v)
		}
		count = min(max(count, 0), scimMaxCount)
	}
	return start, count, nil
}

func scimList[T any](c *fiber.Ctx, all []T, start, count int) error {
	page := []T{}
	if from := start - 1; from < len(all) {
		page = all[from:min(len(all), from+count)]
	}
	return scimJSON(c, fiber.StatusOK, map[string]any{"schemas": []string{scimListSchema},
		"totalResults": len(all), "startIndex": start, "itemsPerPage": len(page), "Resources": page})
}

func (s *Server) scimListUsers(c *fiber.Ctx, a Actor) error {
	want, filtered, err := scimFilter(c, "userName")
	if err != nil {
		return err
	}
	start, count, err := scimPage(c)
	if err != nil {
		return err
	}
	users, err := s.deps.Org.Users(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	out := []scimUser{}
	for _, u := range users {
		if u.Kind != storage.UserRegular || filtered && !strings.EqualFold(u.Email, want) {
			continue
		}
		su, err := s.scimUserOut(c, u)
		if err != nil {
			return err
		}
		out = append(out, su)
	}
	return scimList(c, out, start, count)
}

func (s *Server) scimListGroups(c *fiber.Ctx, a Actor) error {
	want, filtered, err := scimFilter(c, "displayName")
	if err != nil {
		return err
	}
	start, count, err := scimPage(c)
	if err != nil {
		return err
	}
	teams, err := s.deps.Org.Teams(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	out := []scimGroup{}
	for _, t := range teams {
		if filtered && !strings.EqualFold(t.Name, want) {
			continue
		}
		g, err := s.scimGroupOut(c, a.OrgID, t.ID)
		if err != nil {
			return err
		}
		out = append(out, g)
	}
	return scimList(c, out, start, count)
}
