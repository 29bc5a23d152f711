package policy

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"siteline/storage"
)

func TestCSVRoundTrip(t *testing.T) {
	e := defaultEnforcer(t, "o1")
	if err := e.Add([]storage.PolicyRule{Grant("o1", UserSubject("u9"), AdminAuditLog)}); err != nil {
		t.Fatal(err)
	}
	var first bytes.Buffer
	if err := WriteCSV(&first, e.Rules("o1")); err != nil {
		t.Fatal(err)
	}
	rules, warnings, err := ParseCSV("o1", bytes.NewReader(first.Bytes()))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("ParseCSV(export): %v, %v", warnings, err)
	}
	imported := mustEnforcer(t, rules...)
	var second bytes.Buffer
	if err := WriteCSV(&second, imported.Rules("o1")); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		t.Errorf("export, import, export differ:\n%s\n---\n%s", first.String(), second.String())
	}
	if !strings.Contains(first.String(), "g, user:regular, role:regular, o1\n") {
		t.Errorf("export lacks the assignment line:\n%s", first.String())
	}
}

func TestParseCSV(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		wantRules    int
		wantWarnings int
		wantErr      string
	}{
		{"casbin format", "p, role:regular, o1, xa_icall_chat\ng, user:u1, role:regular, o1\n", 2, 0, ""},
		{"comments, blank lines, BOM, CRLF, no spaces",
			"\ufeff# policy\r\n\r\np,role:regular,o1,xa_icall_chat\r\n   \r\n  g , user:u1 , role:regular , o1\r\n", 2, 0, ""},
		{"alias", "p, role:regular, o1, xa_ocalLcalllog_see-all-call-logs\n", 1, 1, ""},
		{"empty", "", 0, 0, ""},
		{"unknown id names its line", "# header\np, role:regular, o1, xa_icall_chat\n\np, role:regular, o1, xa_ocall_chat\n", 0, 0,
			`unknown permission "xa_ocall_chat" on line 4 (did you mean "xa_icall_chat"?)`},
		{"other org", "p, role:regular, o2, xa_icall_chat\n", 0, 0, `domain "o2" is not organisation "o1" on line 1`},
		{"short line", "p, role:regular\n", 0, 0, `"p" rule needs 3 values, got 1 on line 1`},
		{"bad quote", "p, role:regular, o1, xa_icall_chat\np, \"role:x, o1\n", 0, 0, "on line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, warnings, err := ParseCSV("o1", strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCSV error = %v, want %q", err, tt.wantErr)
				}
				var re *RuleError
				if !errors.As(err, &re) || re.Line == 0 {
					t.Errorf("error %v does not name a line", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCSV: %v", err)
			}
			if len(rules) != tt.wantRules || len(warnings) != tt.wantWarnings {
				t.Errorf("ParseCSV = %d rules, warnings %q; want %d rules, %d warnings", len(rules), warnings, tt.wantRules, tt.wantWarnings)
			}
		})
	}
}

func TestWriteCSVRefusesUnreadableValues(t *testing.T) {
	tests := []storage.PolicyRule{
		{OrgID: "o1", PType: "p", V: []string{"role:a,b", "o1", CallJoin}},
		{OrgID: "o1", PType: "p", V: []string{"role:a\nb", "o1", CallJoin}},
		{OrgID: "o1", PType: "#", V: []string{"role:a", "o1", CallJoin}},
	}
	for _, r := range tests {
		if err := WriteCSV(&bytes.Buffer{}, []storage.PolicyRule{r}); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("WriteCSV(%q) = %v, want ErrInvalid", r, err)
		}
	}
}

// FuzzParseCSV: ParseCSV never panics, and what it accepts writes out and
// reads back to the same rules.
func FuzzParseCSV(f *testing.F) {
	seeds := []string{
		"p, role:regular, o1, xa_icall_chat\ng, user:u1, role:regular, o1\n",
		"p, role:regular, o1, xa_ocalLcalllog_call-logs\n",
		"\ufeff# comment\n\np,role:a,o1,admin_policies\r\n",
		"p, \"role:x\", o1, xa_icall_join\n",
		"p, \"role:x, o1\n",
		"g, user:u1, user:u2, o1\n",
		"g, role:a, role:a, o1\n",
		"p\n",
		",,,,\n",
		"p, role:é, o1, xa_icall_join\n",
		"p, role:\x00, o1, xa_icall_join\n",
		"x, y, z, w, v, u\n",
		"\"\"\"\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rules, _, err := ParseCSV("o1", strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("ParseCSV error is not ErrInvalid: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteCSV(&out, rules); err != nil {
			t.Fatalf("WriteCSV of accepted rules: %v", err)
		}
		again, warnings, err := ParseCSV("o1", &out)
		if err != nil || len(warnings) != 0 || !rulesEqual(again, rules) {
			t.Fatalf("round trip: %v, %v, %v != %v", err, warnings, again, rules)
		}
	})
}
