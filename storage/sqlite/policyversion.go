package sqlite

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"

	"siteline/storage"
)

// A policy version keeps its rules as gzip-compressed JSON: a version of a
// 100,000-line policy is a few hundred kilobytes rather than megabytes.

func encodeRules(rules []storage.PolicyRule) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if rules == nil {
		rules = []storage.PolicyRule{}
	}
	if err := json.NewEncoder(zw).Encode(rules); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeRules(blob []byte) ([]storage.PolicyRule, error) {
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, fmt.Errorf("decode policy version: %w", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decode policy version: %w", err)
	}
	var rules []storage.PolicyRule
	if err := json.Unmarshal(data, &rules); err != nil {
		return nil, fmt.Errorf("decode policy version: %w", err)
	}
	return rules, nil
}

func putPolicyVersion(ctx context.Context, q querier, v storage.PolicyVersion) error {
	if err := required("policy_version.id", v.ID, "policy_version.org_id", v.OrgID); err != nil {
		return err
	}
	if err := requireOrg(ctx, q, v.OrgID); err != nil {
		return err
	}
	for i, r := range v.Rules {
		if r.OrgID != v.OrgID {
			return &storage.ValidationError{Field: "policy_version.rules", Problem: fmt.Sprintf("rule %d belongs to organisation %q, not %q", i+1, r.OrgID, v.OrgID)}
		}
	}
	blob, err := encodeRules(v.Rules)
	if err != nil {
		return err
	}
	return upsertScoped(ctx, q, "policy version", v.ID, `INSERT INTO policy_versions (id, org_id, at, actor_id, note, lines, rules)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET at = excluded.at, actor_id = excluded.actor_id, note = excluded.note,
			lines = excluded.lines, rules = excluded.rules
		WHERE policy_versions.org_id = excluded.org_id`,
		v.ID, v.OrgID, nanos(v.At), v.ActorID, v.Note, len(v.Rules), blob)
}

// PolicyVersions lists the versions of an organisation's policy, newest
// first, without their rules.
func (s *Store) PolicyVersions(ctx context.Context, orgID string) ([]storage.PolicyVersion, error) {
	list, err := queryPolicyVersions(ctx, s.read, false, "WHERE org_id = ?", orgID)
	return many(list, err, "list policy versions of "+orgID)
}

// PolicyVersion returns one version of an organisation's policy with its
// rules.
func (s *Store) PolicyVersion(ctx context.Context, orgID, id string) (storage.PolicyVersion, error) {
	list, err := queryPolicyVersions(ctx, s.read, true, "WHERE org_id = ? AND id = ?", orgID, id)
	return one(list, err, "policy version "+id)
}

func queryPolicyVersions(ctx context.Context, q querier, withRules bool, where string, args ...any) ([]storage.PolicyVersion, error) {
	cols := "id, org_id, at, actor_id, note, lines, x''"
	if withRules {
		cols = "id, org_id, at, actor_id, note, lines, rules"
	}
	return collect(ctx, q, func(r *sql.Rows) (storage.PolicyVersion, error) {
		var v storage.PolicyVersion
		var blob []byte
		if err := r.Scan(&v.ID, &v.OrgID, timeDest{&v.At}, &v.ActorID, &v.Note, &v.Lines, &blob); err != nil {
			return v, err
		}
		if withRules {
			rules, err := decodeRules(blob)
			if err != nil {
				return v, err
			}
			v.Rules = rules
		}
		return v, nil
	}, "SELECT "+cols+" FROM policy_versions "+where+" ORDER BY at DESC, id DESC", args...)
}
