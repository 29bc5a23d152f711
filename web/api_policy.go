package web

import (
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// PolicyAdmin edits permission policies. Every change is validated
// (unknown ids refused with a suggestion, the misspelt call-log alias
// rewritten with a warning, lock-out refused), proposed through the
// replicated log together with a new policy version, and audited with the
// before/after difference.
type PolicyAdmin interface {
	Grant(ctx context.Context, a Actor, in GrantInput) (PolicyResult, error)
	Revoke(ctx context.Context, a Actor, in GrantInput) (PolicyResult, error)
	PolicyRoles(ctx context.Context, a Actor) ([]RoleInfo, error)
	CreateRole(ctx context.Context, a Actor, in RoleInput) (PolicyResult, error)
	DeleteRole(ctx context.Context, a Actor, name string) (PolicyResult, error)
	Assign(ctx context.Context, a Actor, in AssignInput) (PolicyResult, error)
	Unassign(ctx context.Context, a Actor, in AssignInput) (PolicyResult, error)
	// ImportPolicy replaces the organisation's policy with a casbin CSV
	// document, all or nothing.
	ImportPolicy(ctx context.Context, a Actor, in ImportInput) (PolicyResult, error)
	// ExportPolicy writes the policy as casbin CSV.
	ExportPolicy(ctx context.Context, a Actor) ([]byte, error)
	CheckPolicy(ctx context.Context, a Actor, user, permission string) (CheckResult, error)
	RestorePolicyVersion(ctx context.Context, a Actor, id, note string) (PolicyResult, error)
	// SupervisionScope lists the users a supervisor reaches.
	SupervisionScope(ctx context.Context, a Actor, supervisor string) ([]storage.User, error)
}

// GrantInput names a subject and a permission. Subject is "role:NAME"
// (or a bare role name), "user:ID-OR-EMAIL" or "team:ID-OR-NAME".
type GrantInput struct {
	Subject    string `json:"subject"`
	Permission string `json:"permission"`
	Note       string `json:"note,omitempty"`
}

// RoleInput creates a role, optionally inheriting other roles.
type RoleInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Inherits    []string `json:"inherits"`
}

// AssignInput gives a role to a user ("user:ID-OR-EMAIL"), a team
// ("team:ID-OR-NAME") or another role ("role:NAME", which then inherits
// it).
type AssignInput struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
}

// ImportInput is a casbin CSV policy and a note for its version.
type ImportInput struct {
	CSV  string `json:"csv"`
	Note string `json:"note"`
}

// PolicyResult says what a change did.
type PolicyResult struct {
	Changed  bool     `json:"changed"`
	Added    int      `json:"added"`
	Removed  int      `json:"removed"`
	Warnings []string `json:"warnings"`
	// Version is the version recorded for the change (without its rules).
	Version *storage.PolicyVersion `json:"version,omitempty"`
}

// CheckResult answers "can USER do PERMISSION?" and says which rule
// decided.
type CheckResult struct {
	UserID      string   `json:"user_id"`
	Email       string   `json:"email"`
	Permission  string   `json:"permission"`
	Allowed     bool     `json:"allowed"`
	Rule        []string `json:"rule"` // the policy line that allowed it (casbin's explain); empty when denied
	Roles       []string `json:"roles"`
	Explanation string   `json:"explanation"`
	Warnings    []string `json:"warnings"`
}

// RoleInfo is a role with its place in the policy.
type RoleInfo struct {
	storage.Role
	Inherits []string `json:"inherits"` // roles it holds directly
	Children []string `json:"children"` // roles that hold it directly
	Users    []string `json:"users"`    // user ids given the role directly
	Teams    []string `json:"teams"`    // team ids given the role
	Grants   []string `json:"grants"`   // permissions granted to it directly
}

type restoreIn struct {
	Note string `json:"note"`
}

type policyListOut struct {
	Rules []storage.PolicyRule `json:"rules"`
}

func (s *Server) policyRoutes() []route {
	p := APIPrefix + "/policy"
	perm := policy.AdminPolicies
	return []route{
		{method: "GET", path: p + "/export", perm: perm, summary: "The policy as casbin CSV (text/csv)", handler: s.apiPolicyExport},
		{method: "POST", path: p + "/import", perm: perm, summary: "Replace the policy with a casbin CSV document, all or nothing", in: ImportInput{}, out: PolicyResult{}, handler: s.apiPolicyImport},
		{method: "POST", path: p + "/grant", perm: perm, summary: "Grant a permission to a role, user or team", in: GrantInput{}, out: PolicyResult{}, handler: s.apiPolicyGrant},
		{method: "POST", path: p + "/revoke", perm: perm, summary: "Revoke a permission from a role, user or team", in: GrantInput{}, out: PolicyResult{}, handler: s.apiPolicyRevoke},
		{method: "GET", path: p + "/roles", perm: perm, summary: "Roles with inheritance, users, teams and grants", out: []RoleInfo{}, handler: s.apiPolicyRoles},
		{method: "POST", path: p + "/roles", perm: perm, summary: "Create a role, optionally inheriting others", in: RoleInput{}, out: PolicyResult{}, handler: s.apiPolicyCreateRole},
		{method: "DELETE", path: p + "/roles/:name", perm: perm, summary: "Delete a role and every line naming it", out: PolicyResult{}, handler: s.apiPolicyDeleteRole},
		{method: "POST", path: p + "/assign", perm: perm, summary: "Give a role to a user, team or role", in: AssignInput{}, out: PolicyResult{}, handler: s.apiPolicyAssign},
		{method: "POST", path: p + "/unassign", perm: perm, summary: "Take a role from a user, team or role", in: AssignInput{}, out: PolicyResult{}, handler: s.apiPolicyUnassign},
		{method: "GET", path: p + "/check", perm: perm, summary: "Can USER do PERMISSION? (?user=&permission= or ?q=USER+PERMISSION), with the deciding rule", out: CheckResult{}, handler: s.apiPolicyCheck},
		{method: "GET", path: p + "/versions", perm: perm, summary: "Recorded versions of the policy, newest first", out: []storage.PolicyVersion{}, handler: s.apiPolicyVersions},
		{method: "GET", path: p + "/versions/:id", perm: perm, summary: "One version of the policy with its rules", out: storage.PolicyVersion{}, handler: s.apiPolicyVersion},
		{method: "POST", path: p + "/versions/:id/restore", perm: perm, summary: "Make a recorded version the policy again", in: restoreIn{}, out: PolicyResult{}, handler: s.apiPolicyRestore},
		{method: "GET", path: p + "/supervision/:user", perm: perm, summary: "The users a team lead or manager supervises", out: []storage.User{}, handler: s.apiPolicySupervision},
	}
}

func (s *Server) apiPolicyExport(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	data, err := s.deps.Policy.ExportPolicy(c.UserContext(), a)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="policy.csv"`)
	return c.Send(data)
}

func (s *Server) apiPolicyImport(c *fiber.Ctx) error {
	var in ImportInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	return policyAnswer(c)(s.deps.Policy.ImportPolicy(c.UserContext(), a, in))
}

func (s *Server) apiPolicyGrant(c *fiber.Ctx) error {
	var in GrantInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	return policyAnswer(c)(s.deps.Policy.Grant(c.UserContext(), a, in))
}

func (s *Server) apiPolicyRevoke(c *fiber.Ctx) error {
	var in GrantInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	return policyAnswer(c)(s.deps.Policy.Revoke(c.UserContext(), a, in))
}

func (s *Server) apiPolicyRoles(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	roles, err := s.deps.Policy.PolicyRoles(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.JSON(nonNil(roles))
}

func (s *Server) apiPolicyCreateRole(c *fiber.Ctx) error {
	var in RoleInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	res, err := s.deps.Policy.CreateRole(c.UserContext(), a, in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(res)
}

func (s *Server) apiPolicyDeleteRole(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	return policyAnswer(c)(s.deps.Policy.DeleteRole(c.UserContext(), a, param(c, "name")))
}

func (s *Server) apiPolicyAssign(c *fiber.Ctx) error {
	var in AssignInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	return policyAnswer(c)(s.deps.Policy.Assign(c.UserContext(), a, in))
}

func (s *Server) apiPolicyUnassign(c *fiber.Ctx) error {
	var in AssignInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	return policyAnswer(c)(s.deps.Policy.Unassign(c.UserContext(), a, in))
}

// CheckArgs reads the check query's arguments: user and permission, or
// q="USER PERMISSION" (also "can USER do PERMISSION?").
func CheckArgs(user, permission, q string) (string, string, error) {
	if q != "" {
		if user != "" || permission != "" {
			return "", "", &storage.ValidationError{Field: "q", Problem: "cannot be combined with user or permission"}
		}
		return policy.ParseCheckQuery(q)
	}
	if user == "" || permission == "" {
		return "", "", &storage.ValidationError{Field: "user and permission", Problem: fmt.Sprintf("are both required (got user %q, permission %q)", user, permission)}
	}
	return user, permission, nil
}

func (s *Server) apiPolicyCheck(c *fiber.Ctx) error {
	user, perm, err := CheckArgs(c.Query("user"), c.Query("permission"), c.Query("q"))
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	res, err := s.deps.Policy.CheckPolicy(c.UserContext(), a, user, perm)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Server) apiPolicyVersions(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	vs, err := s.deps.Org.PolicyVersions(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	return c.JSON(nonNil(vs))
}

func (s *Server) apiPolicyVersion(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	v, err := s.deps.Org.PolicyVersion(c.UserContext(), a.OrgID, param(c, "id"))
	if err != nil {
		return err
	}
	v.Rules = nonNil(v.Rules)
	return c.JSON(v)
}

func (s *Server) apiPolicyRestore(c *fiber.Ctx) error {
	var in restoreIn
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	a, _ := actorOf(c)
	return policyAnswer(c)(s.deps.Policy.RestorePolicyVersion(c.UserContext(), a, param(c, "id"), in.Note))
}

func (s *Server) apiPolicySupervision(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	users, err := s.deps.Policy.SupervisionScope(c.UserContext(), a, param(c, "user"))
	if err != nil {
		return err
	}
	return c.JSON(nonNil(users))
}

// policyAnswer writes the result of a policy change.
func policyAnswer(c *fiber.Ctx) func(PolicyResult, error) error {
	return func(res PolicyResult, err error) error {
		if err != nil {
			return err
		}
		res.Warnings = nonNil(res.Warnings)
		return c.JSON(res)
	}
}
