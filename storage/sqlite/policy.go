package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"siteline/storage"
)

// A policy rule is stored as casbin adapters store it: ptype and six value
// columns, unused trailing ones ”. Reading trims them off again.
const policyFields = 6

// policyRow validates r and returns its ptype and six values.
func policyRow(r storage.PolicyRule) ([]any, error) {
	if err := required("rule.org_id", r.OrgID, "rule.ptype", r.PType); err != nil {
		return nil, err
	}
	if len(r.V) == 0 || len(r.V) > policyFields {
		return nil, &storage.ValidationError{Field: "rule.v", Problem: fmt.Sprintf("must hold 1 to %d values, has %d", policyFields, len(r.V))}
	}
	args := []any{r.OrgID, r.PType}
	for i := range policyFields {
		v := ""
		if i < len(r.V) {
			v = r.V[i]
		}
		args = append(args, v)
	}
	return args, nil
}

// addPolicy inserts rules, ignoring those already present.
func addPolicy(ctx context.Context, q querier, rules []storage.PolicyRule) error {
	for _, r := range rules {
		args, err := policyRow(r)
		if err != nil {
			return err
		}
		if err := requireOrg(ctx, q, r.OrgID); err != nil {
			return err
		}
		if err := exec(ctx, q, `INSERT INTO policy_rules (org_id, ptype, v0, v1, v2, v3, v4, v5)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

// removePolicy deletes rules, ignoring those absent.
func removePolicy(ctx context.Context, q querier, rules []storage.PolicyRule) error {
	for _, r := range rules {
		args, err := policyRow(r)
		if err != nil {
			return err
		}
		if err := exec(ctx, q, `DELETE FROM policy_rules WHERE org_id = ? AND ptype = ?
			AND v0 = ? AND v1 = ? AND v2 = ? AND v3 = ? AND v4 = ? AND v5 = ?`, args...); err != nil {
			return err
		}
	}
	return nil
}

// replacePolicy makes rules the whole policy of orgID. A rule with no
// OrgID is taken as orgID's; one naming another organisation is refused.
func replacePolicy(ctx context.Context, q querier, orgID string, rules []storage.PolicyRule) error {
	if err := requireOrg(ctx, q, orgID); err != nil {
		return err
	}
	if err := exec(ctx, q, "DELETE FROM policy_rules WHERE org_id = ?", orgID); err != nil {
		return err
	}
	scoped := make([]storage.PolicyRule, len(rules))
	for i, r := range rules {
		if r.OrgID == "" {
			r.OrgID = orgID
		}
		if r.OrgID != orgID {
			return &storage.ValidationError{Field: "rule.org_id", Problem: fmt.Sprintf("is %s in a replacement of the policy of %s", r.OrgID, orgID)}
		}
		scoped[i] = r
	}
	if len(scoped) == 0 {
		return nil
	}
	return addPolicy(ctx, q, scoped)
}

// queryPolicy lists the rules of orgID, or of every organisation when
// orgID is "", in a stable order.
func queryPolicy(ctx context.Context, q querier, orgID string) ([]storage.PolicyRule, error) {
	const cols = "SELECT org_id, ptype, v0, v1, v2, v3, v4, v5 FROM policy_rules "
	const order = " ORDER BY org_id, ptype, v0, v1, v2, v3, v4, v5"
	if orgID == "" {
		return collect(ctx, q, scanPolicyRule, cols+order)
	}
	return collect(ctx, q, scanPolicyRule, cols+"WHERE org_id = ?"+order, orgID)
}

func scanPolicyRule(rows *sql.Rows) (storage.PolicyRule, error) {
	var r storage.PolicyRule
	v := make([]string, policyFields)
	if err := rows.Scan(&r.OrgID, &r.PType, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
		return r, err
	}
	n := len(v)
	for n > 0 && v[n-1] == "" {
		n--
	}
	r.V = v[:n:n]
	return r, nil
}
