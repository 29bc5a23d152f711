package policy

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/rbac"

	"siteline/storage"
)

// Enforcer answers "may this user do that in this organisation" from the
// policy rules it holds. It is safe for concurrent use: checks share a
// read lock, changes take the write lock and apply to the live casbin
// enforcer in place, so a change is seen by the very next check.
//
// Decisions. casbin's Enforce evaluates the matcher against every "p" line
// in turn, which costs tens of milliseconds per check at 100,000 lines.
// Check instead asks casbin's role manager for the user's roles in the
// domain and looks each (subject, domain, permission) line up in casbin's
// policy index: the same decision as the matcher of ModelText (a test
// compares them on random policies), at the cost of a few map lookups.
// Explain runs casbin's EnforceEx, which names the deciding line.
//
// There is no decision cache. casbin's (Synced)CachedEnforcer keys its
// cache by request but evicts by policy line, and not at all on grouping
// changes, so a cached "allow" outlives the removal of the user's role
// (TestCasbinCachedEnforcerIsStale). Invalidating the whole cache on every
// change would be correct; with index lookups it buys nothing worth the
// risk of a missed invalidation.
type Enforcer struct {
	mu    sync.RWMutex
	ce    *casbin.Enforcer
	known map[string]int // catalogue id -> position, for checks and ordering
}

// NewEnforcer builds an enforcer holding rules, which are checked with
// Normalize first. No casbin adapter is involved: the store is the source
// of the rules, and the enforcer never writes them anywhere.
func NewEnforcer(rules []storage.PolicyRule) (*Enforcer, error) {
	m, err := model.NewModelFromString(ModelText)
	if err != nil {
		return nil, fmt.Errorf("load casbin model: %w", err)
	}
	ce, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, fmt.Errorf("create casbin enforcer: %w", err)
	}
	e := &Enforcer{ce: ce, known: catalogueIndex()}
	if err := e.Add(rules); err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return e, nil
}

// Check returns nil if userID holds permission in orgID, a
// *storage.ForbiddenError naming the permission if not, and a *RuleError
// if permission is not in the catalogue.
func (e *Enforcer) Check(orgID, userID, permission string) error {
	if _, ok := e.known[permission]; !ok {
		return unknownPermission(permission, 0)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.allowed(e.subjects(orgID, userID), orgID, permission) {
		return &storage.ForbiddenError{Permission: permission}
	}
	return nil
}

// Can reports whether userID holds permission in orgID. An unknown
// permission is never held.
func (e *Enforcer) Can(orgID, userID, permission string) bool {
	return e.Check(orgID, userID, permission) == nil
}

// Explain decides like Check through casbin's EnforceEx and returns the
// policy line that allowed the request (subject, domain, permission), or
// none when it is denied.
func (e *Enforcer) Explain(orgID, userID, permission string) (bool, []string, error) {
	if _, ok := e.known[permission]; !ok {
		return false, nil, unknownPermission(permission, 0)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	ok, rule, err := e.ce.EnforceEx(UserSubject(userID), orgID, permission)
	if err != nil {
		return false, nil, fmt.Errorf("explain %s for user %s in %s: %w", permission, userID, orgID, err)
	}
	return ok, rule, nil
}

// Permissions returns the ids userID holds in orgID, in catalogue order.
func (e *Enforcer) Permissions(orgID, userID string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	subjects := e.subjects(orgID, userID)
	var ids []string
	for _, p := range catalogue() {
		if e.allowed(subjects, orgID, p.ID) {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// Roles returns the names of the roles userID holds in orgID, directly or
// through roles that inherit roles, sorted.
func (e *Enforcer) Roles(orgID, userID string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return stripAll(e.implicitRoles(UserSubject(userID), orgID), rolePrefix)
}

// RoleAncestors returns the names of the roles role holds in orgID
// through inheritance, sorted.
func (e *Enforcer) RoleAncestors(orgID, role string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return stripAll(e.implicitRoles(RoleSubject(role), orgID), rolePrefix)
}

// Users returns the ids of the users holding role in orgID, directly or
// through role inheritance, sorted.
func (e *Enforcer) Users(orgID, role string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	users, _ := e.roleManager().GetImplicitUsers(RoleSubject(role), orgID)
	return stripAll(users, userPrefix)
}

// Rules returns the policy lines of orgID: grants sorted by subject and
// catalogue order, then assignments sorted by user and role.
func (e *Enforcer) Rules(orgID string) []storage.PolicyRule {
	e.mu.RLock()
	grants, _ := e.ce.GetFilteredPolicy(1, orgID)
	assigns, _ := e.ce.GetFilteredGroupingPolicy(2, orgID)
	rules := make([]storage.PolicyRule, 0, len(grants)+len(assigns))
	for _, v := range grants {
		rules = append(rules, storage.PolicyRule{OrgID: orgID, PType: PTypeGrant, V: slices.Clone(v)})
	}
	for _, v := range assigns {
		rules = append(rules, storage.PolicyRule{OrgID: orgID, PType: PTypeAssign, V: slices.Clone(v)})
	}
	e.mu.RUnlock()
	e.sortRules(rules)
	return rules
}

// Add adds rules; rules already present are ignored.
func (e *Enforcer) Add(rules []storage.PolicyRule) error {
	norm, _, err := Normalize(rules)
	if err != nil {
		return fmt.Errorf("add policy: %w", err)
	}
	grants, assigns := split(norm)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.add(grants, assigns); err != nil {
		return fmt.Errorf("add policy: %w", err)
	}
	return nil
}

// Remove removes rules; rules not present are ignored.
func (e *Enforcer) Remove(rules []storage.PolicyRule) error {
	norm, _, err := Normalize(rules)
	if err != nil {
		return fmt.Errorf("remove policy: %w", err)
	}
	grants, assigns := split(norm)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.remove(grants, assigns); err != nil {
		return fmt.Errorf("remove policy: %w", err)
	}
	return nil
}

// Replace makes rules the whole policy of orgID. Other organisations'
// lines are untouched; every rule must belong to orgID.
func (e *Enforcer) Replace(orgID string, rules []storage.PolicyRule) error {
	if msg := checkToken("organisation", orgID); msg != "" {
		return fmt.Errorf("replace policy: %w", &storage.ValidationError{Field: "org_id", Problem: msg})
	}
	norm, _, err := Normalize(rules)
	if err != nil {
		return fmt.Errorf("replace policy of %s: %w", orgID, err)
	}
	for i, r := range norm {
		if r.OrgID != orgID {
			return fmt.Errorf("replace policy of %s: %w", orgID,
				&RuleError{Line: i + 1, Problem: fmt.Sprintf("rule of organisation %q", r.OrgID)})
		}
	}
	grants, assigns := split(norm)
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.ce.RemoveFilteredPolicy(1, orgID); err != nil {
		return fmt.Errorf("replace policy of %s: clear grants: %w", orgID, err)
	}
	if _, err := e.ce.RemoveFilteredGroupingPolicy(2, orgID); err != nil {
		return fmt.Errorf("replace policy of %s: clear assignments: %w", orgID, err)
	}
	if err := e.add(grants, assigns); err != nil {
		return fmt.Errorf("replace policy of %s: %w", orgID, err)
	}
	return nil
}

// add applies grants and assignments. The caller holds the write lock.
func (e *Enforcer) add(grants, assigns [][]string) error {
	if len(grants) > 0 {
		if _, err := e.ce.AddPoliciesEx(grants); err != nil {
			return err
		}
	}
	if len(assigns) > 0 {
		if _, err := e.ce.AddGroupingPoliciesEx(assigns); err != nil {
			return err
		}
	}
	return nil
}

// remove removes the present ones of grants and assignments. The caller
// holds the write lock.
func (e *Enforcer) remove(grants, assigns [][]string) error {
	m := e.ce.GetModel()
	present := func(sec string, rules [][]string) [][]string {
		var out [][]string
		for _, r := range rules {
			if ok, _ := m.HasPolicy(sec, sec, r); ok {
				out = append(out, r)
			}
		}
		return out
	}
	if grants = present("p", grants); len(grants) > 0 {
		if _, err := e.ce.RemovePolicies(grants); err != nil {
			return err
		}
	}
	if assigns = present("g", assigns); len(assigns) > 0 {
		if _, err := e.ce.RemoveGroupingPolicies(assigns); err != nil {
			return err
		}
	}
	return nil
}

// subjects returns the user's subject and every role it holds in orgID.
// The caller holds the read lock.
func (e *Enforcer) subjects(orgID, userID string) []string {
	sub := UserSubject(userID)
	return append([]string{sub}, e.implicitRoles(sub, orgID)...)
}

// implicitRoles returns the role subjects sub holds in orgID. The caller
// holds the read lock.
func (e *Enforcer) implicitRoles(sub, orgID string) []string {
	roles, _ := e.roleManager().GetImplicitRoles(sub, orgID)
	return roles
}

// allowed reports whether one of subjects is granted permission in orgID:
// the matcher of ModelText, evaluated by index. casbin's index key joins
// the values with commas; stored values hold none (Normalize), so a request
// value with a comma can never match a stored key. The caller holds the
// read lock.
func (e *Enforcer) allowed(subjects []string, orgID, permission string) bool {
	m := e.ce.GetModel()
	for _, s := range subjects {
		if ok, _ := m.HasPolicy("p", "p", []string{s, orgID, permission}); ok {
			return true
		}
	}
	return false
}

func (e *Enforcer) roleManager() rbac.RoleManager { return e.ce.GetRoleManager() }

// sortRules orders grants before assignments, grants by subject then
// catalogue position, assignments by their values.
func (e *Enforcer) sortRules(rules []storage.PolicyRule) {
	slices.SortStableFunc(rules, func(a, b storage.PolicyRule) int {
		if a.PType != b.PType {
			return cmp.Compare(b.PType, a.PType) // "p" before "g"
		}
		if a.PType == PTypeGrant {
			return cmp.Or(cmp.Compare(a.V[0], b.V[0]), cmp.Compare(e.known[a.V[2]], e.known[b.V[2]]))
		}
		return slices.Compare(a.V, b.V)
	})
}

// split returns the values of grant and assignment rules.
func split(rules []storage.PolicyRule) (grants, assigns [][]string) {
	for _, r := range rules {
		if r.PType == PTypeGrant {
			grants = append(grants, r.V)
		} else {
			assigns = append(assigns, r.V)
		}
	}
	return grants, assigns
}

// stripAll returns the names in subjects that carry prefix, without it,
// sorted.
func stripAll(subjects []string, prefix string) []string {
	var names []string
	for _, s := range subjects {
		if name, ok := stripPrefix(s, prefix); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
