package policy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"siteline/storage"
)

var update = flag.Bool("update", false, "rewrite golden files (configs/casbin, docs/permissions.md) from the code")

// goldenOrg is the organisation id the shipped default_policy.csv uses.
const goldenOrg = "default"

// defaultEnforcer returns an enforcer with the default policy of org and
// one user per built-in role, the user id being the role name.
func defaultEnforcer(t testing.TB, org string) *Enforcer {
	t.Helper()
	rules := DefaultPolicy(org)
	for _, role := range BuiltinRoleNames() {
		rules = append(rules, Assign(org, role, role))
	}
	e, err := NewEnforcer(rules)
	if err != nil {
		t.Fatalf("NewEnforcer(default policy): %v", err)
	}
	return e
}

func TestDefaultMatrix(t *testing.T) {
	guest := []string{
		"xa_icall_join", "xa_icall_publish-camera", "xa_icall_publish-microphone",
		"xa_icall_chat", "xa_icall_snapshot-annotate", "xa_icall_share-files",
		"xa_icall_record", "xa_icall_invite-participants", "xa_icall_end-call-for-all",
	}
	supervisor := []string{
		"xa_icall_sit-in", "xa_icall_take-over", "xa_icall_transfer",
		"xa_icall_monitor-screen", "xa_sup_team-dashboard", "xa_icall_coach",
		"xa_sup_manage-queues",
	}
	regular := append(slices.Clone(specIDs),
		"xa_icall_join", "xa_icall_publish-camera", "xa_icall_publish-microphone",
		"xa_icall_chat", "xa_icall_snapshot-annotate", "xa_icall_share-files",
		"xa_icall_screen-share", "xa_icall_record", "xa_icall_invite-participants",
		"xa_icall_end-call-for-all", "xa_sup_auto-assign", "admin_api-tokens",
	)
	tests := []struct {
		role string
		want []string
	}{
		{"administrator", IDs()},
		{"regular", regular},
		{"team_member", []string{"xa_sup_auto-assign"}},
		{"team_lead", supervisor},
		{"team_manager", supervisor},
		{"guest_app", guest},
		{"guest_mobile", guest},
		{"guest_desktop", append(slices.Clone(guest), "xa_icall_screen-share")},
	}
	e := defaultEnforcer(t, "o1")
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			for _, id := range IDs() {
				want := slices.Contains(tt.want, id)
				if got := e.Can("o1", tt.role, id); got != want {
					t.Errorf("Can(%s, %s) = %v, want %v", tt.role, id, got, want)
				}
			}
		})
	}
	if len(tests) != len(BuiltinRoleNames()) {
		t.Errorf("matrix covers %d roles, built-ins are %d", len(tests), len(BuiltinRoleNames()))
	}
}

func TestGuestsDeniedSpecIDs(t *testing.T) {
	e := defaultEnforcer(t, "o1")
	for _, kind := range []storage.UserKind{storage.UserGuestApp, storage.UserGuestMobile, storage.UserGuestDesktop} {
		role := GuestRole(kind)
		if role == "" {
			t.Fatalf("GuestRole(%s) is empty", kind)
		}
		for _, id := range specIDs {
			err := e.Check("o1", role, id)
			var fe *storage.ForbiddenError
			if !asForbidden(err, &fe) || fe.Permission != id {
				t.Errorf("guest %s, %s: Check = %v, want ForbiddenError{%s}", role, id, err, id)
			}
		}
	}
	if GuestRole(storage.UserRegular) != "" {
		t.Error("GuestRole(regular) is not empty")
	}
}

func TestDefaultRoles(t *testing.T) {
	roles := DefaultRoles("o1")
	if len(roles) != 8 {
		t.Fatalf("DefaultRoles: %d roles, want 8", len(roles))
	}
	for _, r := range roles {
		if r.OrgID != "o1" || !r.Builtin || r.Description == "" {
			t.Errorf("role %+v: want org o1, builtin, a description", r)
		}
	}
}

func TestDefaultPolicyIsNormal(t *testing.T) {
	rules := DefaultPolicy("o1")
	norm, warnings, err := Normalize(rules)
	if err != nil || len(warnings) != 0 || len(norm) != len(rules) {
		t.Fatalf("Normalize(DefaultPolicy) = %d rules, %v, %v; want %d rules unchanged", len(norm), warnings, err, len(rules))
	}
}

// TestGoldenConfigs keeps configs/casbin in step with the code; run with
// -update after changing the model or the default policy.
func TestGoldenConfigs(t *testing.T) {
	var csv bytes.Buffer
	csv.WriteString("# Default policy of every Siteline organisation, generated from package policy\n")
	csv.WriteString("# (go test ./policy -run TestGoldenConfigs -update). The domain \"" + goldenOrg + "\" stands for\n")
	csv.WriteString("# the organisation id; users get roles through lines such as\n")
	csv.WriteString("# g, user:<id>, role:regular, <org>\n")
	if err := WriteCSV(&csv, DefaultPolicy(goldenOrg)); err != nil {
		t.Fatal(err)
	}
	golden(t, "../configs/casbin/model.conf", []byte(ModelText))
	golden(t, "../configs/casbin/default_policy.csv", csv.Bytes())

	rules, warnings, err := ParseCSV(goldenOrg, bytes.NewReader(csv.Bytes()))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("ParseCSV(default_policy.csv): %v, %v", warnings, err)
	}
	if !rulesEqual(rules, DefaultPolicy(goldenOrg)) {
		t.Error("default_policy.csv does not read back as DefaultPolicy")
	}
}

// golden compares got with the file at path, or writes it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./policy -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s drifted from the code; run go test ./policy -update and review the diff", path)
	}
}

// The shipped roles describe themselves to the administrators who pick
// them, without the specification's internal words.
func TestRoleDescriptionsSpeakToPeople(t *testing.T) {
	for _, r := range DefaultRoles("o1") {
		for _, internal := range []string{"SPEC", "section", "matrix"} {
			if strings.Contains(r.Description, internal) {
				t.Errorf("role %s: description %q speaks of %q", r.Name, r.Description, internal)
			}
		}
	}
}
