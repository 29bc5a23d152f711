package policy

import (
	"errors"
	"slices"
	"testing"

	"siteline/storage"
)

func TestNormalize(t *testing.T) {
	p := func(v ...string) storage.PolicyRule { return storage.PolicyRule{OrgID: "o1", PType: "p", V: v} }
	g := func(v ...string) storage.PolicyRule { return storage.PolicyRule{OrgID: "o1", PType: "g", V: v} }
	tests := []struct {
		name         string
		in           []storage.PolicyRule
		want         []storage.PolicyRule
		wantWarnings int
		wantErr      string
	}{
		{
			name: "valid rules unchanged",
			in:   []storage.PolicyRule{p("role:regular", "o1", CallChat), g("user:u1", "role:regular", "o1")},
			want: []storage.PolicyRule{p("role:regular", "o1", CallChat), g("user:u1", "role:regular", "o1")},
		},
		{
			name:         "alias rewritten with a warning",
			in:           []storage.PolicyRule{p("role:regular", "o1", "xa_ocalLcalllog_call-logs")},
			want:         []storage.PolicyRule{p("role:regular", "o1", "xa_ocall_calllog_call-logs")},
			wantWarnings: 1,
		},
		{
			name:         "duplicate dropped with a warning",
			in:           []storage.PolicyRule{p("role:regular", "o1", CallLogs), p("role:regular", "o1", "xa_ocalLcalllog_call-logs")},
			want:         []storage.PolicyRule{p("role:regular", "o1", CallLogs)},
			wantWarnings: 2,
		},
		{
			name: "unknown id with suggestion",
			in: []storage.PolicyRule{p("role:regular", "o1", CallJoin), p("role:regular", "o1", CallLogs),
				p("role:regular", "o1", "xa_ocall_chat")},
			wantErr: `unknown permission "xa_ocall_chat" on line 3 (did you mean "xa_icall_chat"?)`,
		},
		{
			name:    "unknown id without suggestion",
			in:      []storage.PolicyRule{p("role:regular", "o1", "launch_rockets")},
			wantErr: `unknown permission "launch_rockets" on line 1`,
		},
		{
			name:    "bad ptype",
			in:      []storage.PolicyRule{{OrgID: "o1", PType: "p2", V: []string{"role:a", "o1", CallJoin}}},
			wantErr: `unknown rule type "p2" (want "p" or "g") on line 1`,
		},
		{
			name:    "arity",
			in:      []storage.PolicyRule{p("role:regular", CallJoin)},
			wantErr: `"p" rule needs 3 values, got 2 on line 1`,
		},
		{
			name:    "subject prefix",
			in:      []storage.PolicyRule{p("regular", "o1", CallJoin)},
			wantErr: `subject "regular" must start with "user:", "role:" or "team:" on line 1`,
		},
		{
			name:    "empty subject name",
			in:      []storage.PolicyRule{p("user:", "o1", CallJoin)},
			wantErr: `subject "user:" must start with "user:", "role:" or "team:" on line 1`,
		},
		{
			name:    "g needs a role",
			in:      []storage.PolicyRule{g("user:u1", "user:u2", "o1")},
			wantErr: `role "user:u2" must be "role:" followed by a role name on line 1`,
		},
		{
			name:    "g to itself",
			in:      []storage.PolicyRule{g("role:a", "role:a", "o1")},
			wantErr: `role "role:a" is assigned to itself on line 1`,
		},
		{
			name:    "domain is not the org",
			in:      []storage.PolicyRule{p("role:regular", "o2", CallJoin)},
			wantErr: `domain "o2" is not organisation "o1" on line 1`,
		},
		{
			name:    "missing org",
			in:      []storage.PolicyRule{{PType: "p", V: []string{"role:a", "o1", CallJoin}}},
			wantErr: `organisation is empty on line 1`,
		},
		{
			name:    "comma in a value",
			in:      []storage.PolicyRule{p("role:a,b", "o1", CallJoin)},
			wantErr: `value "role:a,b" contains ',' on line 1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := Normalize(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Normalize error = %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, storage.ErrInvalid) {
					t.Errorf("error is not ErrInvalid: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if !rulesEqual(got, tt.want) {
				t.Errorf("Normalize = %v, want %v", got, tt.want)
			}
			if len(warnings) != tt.wantWarnings {
				t.Errorf("warnings = %q, want %d", warnings, tt.wantWarnings)
			}
		})
	}
}

func TestNormalizeDoesNotAlias(t *testing.T) {
	in := []storage.PolicyRule{{OrgID: "o1", PType: "p", V: []string{"role:a", "o1", "xa_ocalLcalllog_call-logs"}}}
	out, _, err := Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	out[0].V[0] = "role:b"
	if in[0].V[2] != "xa_ocalLcalllog_call-logs" || in[0].V[0] != "role:a" {
		t.Errorf("Normalize changed or shares its input: %v", in[0].V)
	}
}

func TestCheckLockout(t *testing.T) {
	admins := append(DefaultPolicy("o1"), Assign("o1", "boss", RoleAdministrator), Assign("o1", "u1", RoleRegular))
	withoutPolicies := slices.DeleteFunc(slices.Clone(admins), func(r storage.PolicyRule) bool {
		return r.PType == "p" && r.V[2] == AdminPolicies
	})
	tests := []struct {
		name    string
		rules   []storage.PolicyRule
		active  []string
		lockout bool
	}{
		{"an active administrator", admins, []string{"u1", "boss"}, false},
		{"administrator deactivated", admins, []string{"u1"}, true},
		{"nobody active", admins, nil, true},
		{"admin_policies revoked from the role", withoutPolicies, []string{"u1", "boss"}, true},
		{"granted to a user directly", append(slices.Clone(withoutPolicies), Grant("o1", UserSubject("u1"), AdminPolicies)),
			[]string{"u1"}, false},
		{"only another org's admin", append(DefaultPolicy("o2"), Assign("o2", "boss", RoleAdministrator)),
			[]string{"boss"}, true},
		{"empty policy", nil, []string{"boss"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLockout("o1", tt.rules, tt.active)
			var le *LockoutError
			if got := errors.As(err, &le); got != tt.lockout {
				t.Fatalf("CheckLockout = %v, lockout want %v", err, tt.lockout)
			}
			if tt.lockout && !errors.Is(err, storage.ErrConflict) {
				t.Errorf("lock-out error is not ErrConflict: %v", err)
			}
		})
	}
	bad := []storage.PolicyRule{Grant("o1", RoleSubject(RoleRegular), "nope")}
	if err := CheckLockout("o1", bad, []string{"u1"}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("CheckLockout(invalid rules) = %v, want ErrInvalid", err)
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"xa_ocall_chat", "xa_icall_chat", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
