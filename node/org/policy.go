package org

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"siteline/node/internal/ids"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Policy use cases (web.PolicyAdmin). Each one computes the organisation's
// policy after the change, validates it (policy.Normalize for the lines it
// adds, policy.CheckLockout when lines go), and proposes ONE command
// through Raft holding the change and a new policy version (the whole rule
// set after the change). The enforcer of every node follows when the
// command is applied (the node's Raft callback); the audit log gets the
// before/after difference.
//
// Team memberships are policy lines too ("g, user:U, team:T, org", see
// policy.TeamLink), kept by SetTeamMember, RemoveTeamMember and DeleteTeam
// so that a role given to a team ("g, team:T, role:R, org") reaches its
// members. They are derived from the teams: export leaves them out, and
// import and restore keep the current ones whatever the document says.

var roleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// auditDiffMax bounds the lines of each side of a diff kept in the audit
// log; the version holds the whole rule set anyway.
const auditDiffMax = 500

// policyChange is a computed edit of one organisation's policy.
type policyChange struct {
	action, target, note string
	next                 []storage.PolicyRule // the whole policy after the change
	replace              bool                 // propose OpReplacePolicy rather than add/remove
	extra                []storage.Change     // role records to put or delete
	warnings             []string
	detail               map[string]any
}

// commitPolicy validates and proposes a policy change, records a version
// and audits it.
func (s *Service) commitPolicy(ctx context.Context, a web.Actor, pc policyChange) (web.PolicyResult, error) {
	orgID := a.OrgID
	current := s.d.Enforcer.Rules(orgID)
	added, removed := diffRules(current, pc.next)
	res := web.PolicyResult{Warnings: pc.warnings, Added: len(added), Removed: len(removed)}
	if len(added) == 0 && len(removed) == 0 && len(pc.extra) == 0 {
		return res, nil
	}
	if len(removed) > 0 {
		// Grants can only widen what users hold (the model is allow-only):
		// only a removal can lock the organisation out.
		active, err := s.activeUsers(ctx, orgID)
		if err != nil {
			return res, err
		}
		if err := policy.CheckLockout(orgID, pc.next, active); err != nil {
			return res, err
		}
	}
	now := s.d.Now().UTC()
	changes := slices.Clone(pc.extra)
	switch {
	case pc.replace:
		changes = append(changes, storage.Change{Op: storage.OpReplacePolicy, OrgID: orgID, Rules: pc.next})
	default:
		if len(removed) > 0 {
			changes = append(changes, storage.Change{Op: storage.OpRemovePolicy, Rules: removed})
		}
		if len(added) > 0 {
			changes = append(changes, storage.Change{Op: storage.OpAddPolicy, Rules: added})
		}
	}
	versions, err := s.d.Store.PolicyVersions(ctx, orgID)
	if err != nil {
		return res, err
	}
	if len(versions) == 0 {
		// The first recorded change also records what it changed, so it
		// can be undone like any later one.
		first := storage.PolicyVersion{ID: ids.New(), OrgID: orgID, At: now.Add(-1), ActorID: "system", Note: "policy before the first recorded change", Rules: current}
		changes = append(changes, storage.Change{Op: storage.OpPutPolicyVersion, PolicyVersion: &first})
	}
	note := strings.TrimSpace(pc.note)
	if note == "" {
		note = pc.action + " " + pc.target
	}
	if err := checkNote(note); err != nil {
		return res, err
	}
	v := storage.PolicyVersion{ID: ids.New(), OrgID: orgID, At: now, ActorID: actorID(a), Note: note, Rules: pc.next}
	changes = append(changes, storage.Change{Op: storage.OpPutPolicyVersion, PolicyVersion: &v})
	detail := map[string]any{"version": v.ID, "note": note, "added": ruleLines(added), "removed": ruleLines(removed)}
	if len(pc.warnings) > 0 {
		detail["warnings"] = pc.warnings
	}
	for k, x := range pc.detail {
		detail[k] = x
	}
	if err := s.commit(ctx, a, entry{pc.action, pc.target, detail}, changes...); err != nil {
		return res, err
	}
	res.Changed = true
	v.Lines, v.Rules = len(pc.next), nil
	res.Version = &v
	return res, nil
}

func (s *Service) Grant(ctx context.Context, a web.Actor, in web.GrantInput) (web.PolicyResult, error) {
	return s.grantOrRevoke(ctx, a, in, true)
}

func (s *Service) Revoke(ctx context.Context, a web.Actor, in web.GrantInput) (web.PolicyResult, error) {
	return s.grantOrRevoke(ctx, a, in, false)
}

func (s *Service) grantOrRevoke(ctx context.Context, a web.Actor, in web.GrantInput, grant bool) (web.PolicyResult, error) {
	sub, err := s.subject(ctx, a, "subject", in.Subject)
	if err != nil {
		return web.PolicyResult{}, err
	}
	rule := policy.Grant(a.OrgID, sub, strings.TrimSpace(in.Permission))
	norm, warnings, err := policy.Normalize([]storage.PolicyRule{rule})
	if err != nil {
		return web.PolicyResult{}, fieldRuleError("permission", err)
	}
	rule = norm[0]
	current := s.d.Enforcer.Rules(a.OrgID)
	pc := policyChange{action: "policy.grant", target: sub, note: in.Note, warnings: warnings,
		detail: map[string]any{"subject": sub, "permission": rule.V[2]}}
	pc.warnings = oneRuleWarnings(pc.warnings)
	if grant {
		pc.next = append(current, rule)
	} else {
		pc.action = "policy.revoke"
		pc.next = withoutRules(current, rule)
	}
	pc.note = strings.TrimSpace(pc.note)
	if pc.note == "" {
		pc.note = fmt.Sprintf("%s %s %s", strings.TrimPrefix(pc.action, "policy."), rule.V[2], sub)
	}
	return s.commitPolicy(ctx, a, pc)
}

func (s *Service) PolicyRoles(ctx context.Context, a web.Actor) ([]web.RoleInfo, error) {
	roles, err := s.d.Store.Roles(ctx, a.OrgID)
	if err != nil {
		return nil, err
	}
	byName := map[string]*web.RoleInfo{}
	out := make([]web.RoleInfo, len(roles))
	for i, r := range roles {
		out[i] = web.RoleInfo{Role: r, Inherits: []string{}, Children: []string{}, Users: []string{}, Teams: []string{}, Grants: []string{}}
		byName[r.Name] = &out[i]
	}
	for _, r := range s.d.Enforcer.Rules(a.OrgID) {
		switch r.PType {
		case policy.PTypeGrant:
			if name, ok := strings.CutPrefix(r.V[0], "role:"); ok && byName[name] != nil {
				byName[name].Grants = append(byName[name].Grants, r.V[2])
			}
		case policy.PTypeAssign:
			parent, ok := strings.CutPrefix(r.V[1], "role:")
			if !ok {
				continue
			}
			kind, id, _ := strings.Cut(r.V[0], ":")
			if p := byName[parent]; p != nil {
				switch kind {
				case "user":
					p.Users = append(p.Users, id)
				case "team":
					p.Teams = append(p.Teams, id)
				case "role":
					p.Children = append(p.Children, id)
				}
			}
			if c := byName[id]; kind == "role" && c != nil {
				c.Inherits = append(c.Inherits, parent)
			}
		}
	}
	return out, nil
}

func (s *Service) CreateRole(ctx context.Context, a web.Actor, in web.RoleInput) (web.PolicyResult, error) {
	name := strings.TrimSpace(in.Name)
	if !roleNameRE.MatchString(name) {
		return web.PolicyResult{}, validation("name", fmt.Sprintf("%q is not a role name: 1 to 64 lower-case letters, digits, _ or -, starting with a letter or digit", name))
	}
	desc := strings.TrimSpace(in.Description)
	if len(desc) > 200 || strings.ContainsAny(desc, "\x00\r\n") {
		return web.PolicyResult{}, validation("description", "must be a single line of at most 200 bytes")
	}
	roles, err := s.d.Store.Roles(ctx, a.OrgID)
	if err != nil {
		return web.PolicyResult{}, err
	}
	if hasRole(roles, name) {
		return web.PolicyResult{}, fmt.Errorf("a role named %q already exists: %w", name, storage.ErrConflict)
	}
	next := s.d.Enforcer.Rules(a.OrgID)
	for _, p := range in.Inherits {
		p = strings.TrimPrefix(strings.TrimSpace(p), "role:")
		if !hasRole(roles, p) {
			return web.PolicyResult{}, validation("inherits", fmt.Sprintf("%q is not a role of this organisation", p))
		}
		next = append(next, roleLink(a.OrgID, name, p))
	}
	role := storage.Role{OrgID: a.OrgID, Name: name, Description: desc}
	return s.commitPolicy(ctx, a, policyChange{
		action: "policy.role.create", target: "role:" + name, next: next,
		extra:  []storage.Change{{Op: storage.OpPutRole, Role: &role}},
		detail: map[string]any{"role": name, "description": desc, "inherits": in.Inherits},
	})
}

func (s *Service) DeleteRole(ctx context.Context, a web.Actor, name string) (web.PolicyResult, error) {
	roles, err := s.d.Store.Roles(ctx, a.OrgID)
	if err != nil {
		return web.PolicyResult{}, err
	}
	i := slices.IndexFunc(roles, func(r storage.Role) bool { return r.Name == name })
	if i < 0 {
		return web.PolicyResult{}, fmt.Errorf("role %s: %w", name, storage.ErrNotFound)
	}
	if roles[i].Builtin {
		return web.PolicyResult{}, validation("role", fmt.Sprintf("%q is a built-in role: narrow its grants instead of deleting it", name))
	}
	sub := policy.RoleSubject(name)
	next := slices.DeleteFunc(s.d.Enforcer.Rules(a.OrgID), func(r storage.PolicyRule) bool {
		return r.V[0] == sub || (r.PType == policy.PTypeAssign && r.V[1] == sub)
	})
	return s.commitPolicy(ctx, a, policyChange{
		action: "policy.role.delete", target: sub, next: next,
		extra:  []storage.Change{{Op: storage.OpDeleteRole, OrgID: a.OrgID, ID: name}},
		detail: map[string]any{"role": name},
	})
}

func (s *Service) Assign(ctx context.Context, a web.Actor, in web.AssignInput) (web.PolicyResult, error) {
	return s.assign(ctx, a, in, true)
}

func (s *Service) Unassign(ctx context.Context, a web.Actor, in web.AssignInput) (web.PolicyResult, error) {
	return s.assign(ctx, a, in, false)
}

func (s *Service) assign(ctx context.Context, a web.Actor, in web.AssignInput, add bool) (web.PolicyResult, error) {
	sub, err := s.subject(ctx, a, "subject", in.Subject)
	if err != nil {
		return web.PolicyResult{}, err
	}
	role := strings.TrimPrefix(strings.TrimSpace(in.Role), "role:")
	roles, err := s.d.Store.Roles(ctx, a.OrgID)
	if err != nil {
		return web.PolicyResult{}, err
	}
	if !hasRole(roles, role) {
		return web.PolicyResult{}, validation("role", fmt.Sprintf("%q is not a role of this organisation", role))
	}
	if child, ok := strings.CutPrefix(sub, "role:"); ok && add {
		if child == role || slices.Contains(s.d.Enforcer.RoleAncestors(a.OrgID, role), child) {
			return web.PolicyResult{}, validation("role", fmt.Sprintf("role %s already inherits %s: giving it to %s would make a cycle", role, child, child))
		}
	}
	rule := storage.PolicyRule{OrgID: a.OrgID, PType: policy.PTypeAssign, V: []string{sub, policy.RoleSubject(role), a.OrgID}}
	if _, _, err := policy.Normalize([]storage.PolicyRule{rule}); err != nil {
		return web.PolicyResult{}, fieldRuleError("subject", err)
	}
	current := s.d.Enforcer.Rules(a.OrgID)
	pc := policyChange{action: "policy.assign", target: sub, detail: map[string]any{"subject": sub, "role": role},
		note: fmt.Sprintf("assign role %s to %s", role, sub)}
	if add {
		pc.next = append(current, rule)
	} else {
		pc.action, pc.note = "policy.unassign", fmt.Sprintf("take role %s from %s", role, sub)
		pc.next = withoutRules(current, rule)
	}
	return s.commitPolicy(ctx, a, pc)
}

func (s *Service) ImportPolicy(ctx context.Context, a web.Actor, in web.ImportInput) (web.PolicyResult, error) {
	rules, warnings, err := policy.ParseCSV(a.OrgID, strings.NewReader(in.CSV))
	if err != nil {
		return web.PolicyResult{}, fmt.Errorf("import policy: %w", err)
	}
	return s.replacePolicy(ctx, a, "policy.import", in.Note, rules, warnings)
}

func (s *Service) RestorePolicyVersion(ctx context.Context, a web.Actor, id, note string) (web.PolicyResult, error) {
	v, err := s.d.Store.PolicyVersion(ctx, a.OrgID, id)
	if err != nil {
		return web.PolicyResult{}, err
	}
	rules, warnings, err := policy.Normalize(v.Rules)
	if err != nil {
		return web.PolicyResult{}, fmt.Errorf("restore policy version %s: %w", id, err)
	}
	if strings.TrimSpace(note) == "" {
		note = fmt.Sprintf("restore version of %s (%s)", v.At.Format("2006-01-02 15:04:05"), v.Note)
		if len(note) > 500 {
			note = note[:500]
		}
	}
	return s.replacePolicy(ctx, a, "policy.restore", note, rules, warnings)
}

// replacePolicy makes rules the whole policy: team membership lines are
// kept as they are, and roles the rules name but the organisation lacks
// are created.
func (s *Service) replacePolicy(ctx context.Context, a web.Actor, action, note string, rules []storage.PolicyRule, warnings []string) (web.PolicyResult, error) {
	next := make([]storage.PolicyRule, 0, len(rules))
	dropped := 0
	for _, r := range rules {
		if policy.IsTeamLink(r) {
			dropped++
			continue
		}
		next = append(next, r)
	}
	if dropped > 0 {
		warnings = append(warnings, fmt.Sprintf("%d team membership lines ignored: memberships come from the teams", dropped))
	}
	for _, r := range s.d.Enforcer.Rules(a.OrgID) {
		if policy.IsTeamLink(r) {
			next = append(next, r)
		}
	}
	roles, err := s.d.Store.Roles(ctx, a.OrgID)
	if err != nil {
		return web.PolicyResult{}, err
	}
	var extra []storage.Change
	seen := map[string]bool{}
	for _, r := range next {
		for _, v := range r.V[:2] {
			name, ok := strings.CutPrefix(v, "role:")
			if !ok || seen[name] || hasRole(roles, name) {
				continue
			}
			seen[name] = true
			if !roleNameRE.MatchString(name) {
				return web.PolicyResult{}, validation("rules", fmt.Sprintf("%q is not a role name: 1 to 64 lower-case letters, digits, _ or -", name))
			}
			extra = append(extra, storage.Change{Op: storage.OpPutRole, Role: &storage.Role{OrgID: a.OrgID, Name: name, Description: createdRoleDescription(action)}})
			warnings = append(warnings, fmt.Sprintf("role %s created", name))
		}
	}
	return s.commitPolicy(ctx, a, policyChange{action: action, target: a.OrgID, note: note, next: next, replace: true, extra: extra, warnings: warnings,
		detail: map[string]any{"lines": len(next)}})
}

func (s *Service) ExportPolicy(ctx context.Context, a web.Actor) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Siteline policy of organisation %s (casbin CSV). Team memberships are not included: they come from the teams.\n", a.OrgID)
	rules := slices.DeleteFunc(s.d.Enforcer.Rules(a.OrgID), policy.IsTeamLink)
	if err := policy.WriteCSV(&buf, rules); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Service) CheckPolicy(ctx context.Context, a web.Actor, user, permission string) (web.CheckResult, error) {
	u, err := s.findUser(ctx, a, "user", user)
	if err != nil {
		return web.CheckResult{}, err
	}
	id, alias := policy.Canonical(permission)
	res := web.CheckResult{UserID: u.ID, Email: u.Email, Permission: id, Rule: []string{}, Warnings: []string{}}
	if alias {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%q is the misspelt alias of %q", permission, id))
	}
	ok, rule, err := s.d.Enforcer.Explain(a.OrgID, u.ID, id)
	if err != nil {
		return res, fieldRuleError("permission", err)
	}
	res.Allowed, res.Roles = ok, nonNilStrings(s.d.Enforcer.Roles(a.OrgID, u.ID))
	if ok && len(rule) > 0 {
		res.Rule = rule
	}
	switch {
	case !u.Active:
		res.Allowed = false
		res.Explanation = fmt.Sprintf("%s is deactivated and holds nothing", u.Email)
	case ok && len(rule) > 0 && rule[0] == policy.UserSubject(u.ID):
		res.Explanation = fmt.Sprintf("yes: %s is granted to %s directly (p, %s)", id, u.Email, strings.Join(rule, ", "))
	case ok && len(rule) > 0:
		res.Explanation = fmt.Sprintf("yes: %s is granted to %s (p, %s), which %s holds", id, rule[0], strings.Join(rule, ", "), u.Email)
	case ok:
		res.Explanation = "yes"
	case len(res.Roles) == 0:
		res.Explanation = fmt.Sprintf("no: %s holds no role and no line grants %s to them", u.Email, id)
	default:
		res.Explanation = fmt.Sprintf("no: no line grants %s to %s or to any of their roles (%s)", id, u.Email, strings.Join(res.Roles, ", "))
	}
	return res, nil
}

// createdRoleDescription describes a role that a whole new policy named
// and no one had created, in the words of the administrator who did it.
func createdRoleDescription(action string) string {
	if action == "policy.restore" {
		return "added when an earlier version of the policy was restored"
	}
	return "added by a policy import"
}
