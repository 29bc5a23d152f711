package policy

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"siteline/storage"
)

// ParseCSV reads a policy in casbin's CSV format ("p, role:regular, org,
// home_dashboard_access" and "g, user:42, role:regular, org"; blank lines
// and lines starting with # are skipped) as the rules of orgID, and checks
// them with Normalize. Errors name the first bad line of the input.
func ParseCSV(orgID string, r io.Reader) ([]storage.PolicyRule, []string, error) {
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true

	var rules []storage.PolicyRule
	var lines []int
	for {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, &RuleError{Line: pe.Line, Problem: pe.Err.Error()}
			}
			return nil, nil, fmt.Errorf("read policy CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		for i := range record {
			record[i] = strings.TrimSpace(record[i])
		}
		if blank(record) {
			continue
		}
		rules = append(rules, storage.PolicyRule{OrgID: orgID, PType: record[0], V: record[1:]})
		lines = append(lines, line)
	}
	return normalize(rules, lines)
}

// blank reports whether every field of a record is empty.
func blank(record []string) bool {
	for _, f := range record {
		if f != "" {
			return false
		}
	}
	return true
}

// WriteCSV writes rules in casbin's CSV format, one line each, in the
// order given. It refuses a value that could not be read back as written.
func WriteCSV(w io.Writer, rules []storage.PolicyRule) error {
	bw := bufio.NewWriter(w)
	for i, r := range rules {
		if r.PType != PTypeGrant && r.PType != PTypeAssign {
			return fmt.Errorf("write policy CSV: %w",
				&RuleError{Line: i + 1, Problem: fmt.Sprintf("unknown rule type %q", r.PType)})
		}
		bw.WriteString(r.PType)
		for _, v := range r.V {
			if msg := checkToken("value", v); msg != "" {
				return fmt.Errorf("write policy CSV: %w", &RuleError{Line: i + 1, Problem: msg})
			}
			bw.WriteString(", ")
			bw.WriteString(v)
		}
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write policy CSV: %w", err)
	}
	return nil
}
