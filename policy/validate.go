package policy

import (
	"fmt"
	"strings"
	"unicode"

	"siteline/storage"
)

// RuleError says what is wrong with one policy line. errors.Is(err,
// storage.ErrInvalid) is true for it.
type RuleError struct {
	Line    int    // 1-based: the CSV line, or the rule's position in a slice; 0 if unknown
	Problem string // e.g. `unknown permission "xa_ocall_chat"`
	Hint    string // e.g. `did you mean "xa_icall_chat"?`
}

func (e *RuleError) Error() string {
	s := e.Problem
	if e.Line > 0 {
		s += fmt.Sprintf(" on line %d", e.Line)
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Is makes errors.Is(err, storage.ErrInvalid) true.
func (e *RuleError) Is(target error) bool { return target == storage.ErrInvalid }

// LockoutError refuses a policy under which no active user of the
// organisation could administer policies any more. errors.Is(err,
// storage.ErrConflict) is true for it.
type LockoutError struct {
	OrgID string
}

func (e *LockoutError) Error() string {
	return fmt.Sprintf("policy of organisation %s would leave no active user with %s", e.OrgID, AdminPolicies)
}

// Is makes errors.Is(err, storage.ErrConflict) true.
func (e *LockoutError) Is(target error) bool { return target == storage.ErrConflict }

// Normalize checks policy rules and returns them in canonical form: the
// misspelt call-log alias is rewritten (with a warning) and repeated lines
// are dropped (with a warning). It refuses the first bad rule, naming its
// position (1-based) and, for an unknown permission, the nearest known id.
func Normalize(rules []storage.PolicyRule) (out []storage.PolicyRule, warnings []string, err error) {
	return normalize(rules, nil)
}

// normalize is Normalize with the line number of each rule (nil means the
// rule's position in the slice).
func normalize(rules []storage.PolicyRule, lines []int) ([]storage.PolicyRule, []string, error) {
	out := make([]storage.PolicyRule, 0, len(rules))
	var warnings []string
	seen := make(map[string]int, len(rules))
	for i, rule := range rules {
		line := i + 1
		if lines != nil {
			line = lines[i]
		}
		norm, warning, err := normalizeRule(rule, line)
		if err != nil {
			return nil, nil, err
		}
		if warning != "" {
			warnings = append(warnings, warning)
		}
		key := norm.PType + "," + strings.Join(norm.V, ",")
		if first, dup := seen[key]; dup {
			warnings = append(warnings, fmt.Sprintf("line %d repeats line %d; ignored", line, first))
			continue
		}
		seen[key] = line
		out = append(out, norm)
	}
	return out, warnings, nil
}

// normalizeRule checks one rule and returns its canonical copy and a
// warning if the rule was rewritten.
func normalizeRule(rule storage.PolicyRule, line int) (storage.PolicyRule, string, error) {
	bad := func(format string, args ...any) error {
		return &RuleError{Line: line, Problem: fmt.Sprintf(format, args...)}
	}
	if rule.PType != PTypeGrant && rule.PType != PTypeAssign {
		return rule, "", bad("unknown rule type %q (want %q or %q)", rule.PType, PTypeGrant, PTypeAssign)
	}
	if len(rule.V) != 3 {
		return rule, "", bad("%q rule needs 3 values, got %d", rule.PType, len(rule.V))
	}
	if err := checkToken("organisation", rule.OrgID); err != "" {
		return rule, "", bad("%s", err)
	}
	for _, v := range rule.V {
		if err := checkToken("value", v); err != "" {
			return rule, "", bad("%s", err)
		}
	}
	v := append([]string(nil), rule.V...)
	out := storage.PolicyRule{OrgID: rule.OrgID, PType: rule.PType, V: v}

	var sub, dom string
	switch rule.PType {
	case PTypeGrant:
		sub, dom = v[0], v[1]
	case PTypeAssign:
		sub, dom = v[0], v[2]
		// A user may also be linked to a team (team membership, kept by
		// the node); anything else is given a role.
		if !isSubject(v[1], rolePrefix) && !(isSubject(v[0], userPrefix) && isSubject(v[1], teamPrefix)) {
			return rule, "", bad("role %q must be %q followed by a role name", v[1], rolePrefix)
		}
		if v[0] == v[1] {
			return rule, "", bad("role %q is assigned to itself", v[1])
		}
	}
	if !isSubject(sub, userPrefix) && !isSubject(sub, rolePrefix) && !isSubject(sub, teamPrefix) {
		return rule, "", bad("subject %q must start with %q, %q or %q", sub, userPrefix, rolePrefix, teamPrefix)
	}
	if dom != rule.OrgID {
		return rule, "", bad("domain %q is not organisation %q", dom, rule.OrgID)
	}
	if rule.PType != PTypeGrant {
		return out, "", nil
	}

	id, alias := Canonical(v[2])
	if _, ok := Lookup(id); !ok {
		return rule, "", unknownPermission(v[2], line)
	}
	if !alias {
		return out, "", nil
	}
	v[2] = id
	return out, fmt.Sprintf("line %d: %q is the misspelt alias of %q; rewritten", line, rule.V[2], id), nil
}

// isSubject reports whether s is prefix followed by a non-empty name.
func isSubject(s, prefix string) bool {
	name, ok := stripPrefix(s, prefix)
	return ok && name != ""
}

// checkToken returns what is wrong with a policy value, or "". Values
// travel in casbin CSV and in casbin's own keys (joined with commas), so
// commas, quotes, spaces and control characters are refused.
func checkToken(what, s string) string {
	if s == "" {
		return what + " is empty"
	}
	if len(s) > 256 {
		return fmt.Sprintf("%s %.20q... is longer than 256 bytes", what, s)
	}
	for _, r := range s {
		if r == ',' || r == '"' || r == '\'' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Sprintf("%s %q contains %q", what, s, r)
		}
	}
	return ""
}

// unknownPermission refuses id, suggesting the nearest catalogue id.
func unknownPermission(id string, line int) error {
	e := &RuleError{Line: line, Problem: fmt.Sprintf("unknown permission %q", id)}
	if near := Suggest(id); near != "" {
		e.Hint = fmt.Sprintf("did you mean %q?", near)
	}
	return e
}

// Suggest returns the catalogue id nearest to id by edit distance, or ""
// when none is close enough to be a plausible typo.
func Suggest(id string) string {
	id, _ = Canonical(id)
	best, bestDist := "", len(id)/2+1
	for _, p := range catalogue() {
		if d := editDistance(id, p.ID); d < bestDist {
			best, bestDist = p.ID, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// CheckLockout refuses a rule set under which none of activeUserIDs holds
// admin_policies in orgID. rules is the organisation's whole policy as it
// would be after the edit; rules of other organisations are ignored.
func CheckLockout(orgID string, rules []storage.PolicyRule, activeUserIDs []string) error {
	var own []storage.PolicyRule
	for _, r := range rules {
		if r.OrgID == orgID {
			own = append(own, r)
		}
	}
	e, err := NewEnforcer(own)
	if err != nil {
		return fmt.Errorf("check lock-out of organisation %s: %w", orgID, err)
	}
	for _, u := range activeUserIDs {
		if e.Can(orgID, u, AdminPolicies) {
			return nil
		}
	}
	return &LockoutError{OrgID: orgID}
}
