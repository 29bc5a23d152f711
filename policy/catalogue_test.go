package policy

import (
	"regexp"
	"testing"
)

// specIDs is the catalogue of SPEC.md section 5, copied by hand: these
// ids are a contract with users' stored policies and must never change.
var specIDs = []string{
	"home_dashboard_access",
	"xa_xassist",
	"xa_ocall_outside-the-call",
	"xa_ocall_xassist-dashboard",
	"xa_ocall_create_conference",
	"xa_ocall_contact_list_contact-list",
	"xa_ocall_contact_list_invite-guestusers",
	"xa_ocall_calllog_call-logs",
	"xa_ocall_calllog_see-own-call-logs",
	"xa_ocall_calllog_see-all-call-logs",
	"xa_ocall_calllog_download-media",
	"xa_ocall_calllog_delete-media",
	"xa_ocall_calllog_export-call-log",
	"xa_ocall_reports_service-reports",
	"xa_ocall_create-service-report",
	"xa_ocall_read-service-reports",
	"xa_ocall_edit-service-reports",
	"xa_ocall_delete-service-reports",
	"xa_ocall_phonebook-editor",
}

// inCallIDs, supervisionIDs and adminIDs are the ids added beyond the
// SPEC table, also copied by hand.
var (
	inCallIDs = []string{
		"xa_icall_join", "xa_icall_publish-camera", "xa_icall_publish-microphone",
		"xa_icall_chat", "xa_icall_snapshot-annotate", "xa_icall_share-files",
		"xa_icall_screen-share", "xa_icall_record", "xa_icall_invite-participants",
		"xa_icall_end-call-for-all", "xa_icall_sit-in", "xa_icall_take-over",
		"xa_icall_transfer", "xa_icall_monitor-screen", "xa_icall_coach",
	}
	supervisionIDs = []string{"xa_sup_team-dashboard", "xa_sup_auto-assign", "xa_sup_manage-queues"}
	adminIDs       = []string{
		"admin_organisation_members", "admin_organisation_teams", "admin_organisation_labels",
		"admin_policies", "admin_sso", "admin_federation", "admin_audit-log", "admin_api-tokens",
		"admin_organisation_api-tokens",
	}
)

func TestCatalogueHoldsEveryID(t *testing.T) {
	var want []string
	for _, ids := range [][]string{specIDs, inCallIDs, supervisionIDs, adminIDs} {
		want = append(want, ids...)
	}
	got := IDs()
	if len(got) != len(want) {
		t.Fatalf("catalogue has %d ids, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("catalogue[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestSpecIDsAreFirstNineteen(t *testing.T) {
	all := All()
	for i, id := range specIDs {
		p, ok := Lookup(id)
		if !ok {
			t.Errorf("Lookup(%q): missing", id)
			continue
		}
		if all[i].ID != id {
			t.Errorf("catalogue[%d] = %q, want SPEC id %q", i, all[i].ID, id)
		}
		switch p.Area {
		case AreaStartPage, AreaAssist, AreaOutside:
		default:
			t.Errorf("%s: area %q is not one of the SPEC table's", id, p.Area)
		}
	}
}

func TestCatalogueEntries(t *testing.T) {
	idShape := regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	seen := map[string]bool{}
	for _, p := range All() {
		if seen[p.ID] {
			t.Errorf("%s: listed twice", p.ID)
		}
		seen[p.ID] = true
		if !idShape.MatchString(p.ID) {
			t.Errorf("%s: id is not lower-case letters, digits, _ and -", p.ID)
		}
		if p.Area == "" || p.FeatureSet == "" || p.Meaning == "" {
			t.Errorf("%s: area, feature set and meaning are required: %+v", p.ID, p)
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		in        string
		want      string
		wantAlias bool
	}{
		{"xa_ocalLcalllog_call-logs", "xa_ocall_calllog_call-logs", true},
		{"xa_ocalLcalllog_export-call-log", "xa_ocall_calllog_export-call-log", true},
		{"xa_ocall_calllog_call-logs", "xa_ocall_calllog_call-logs", false},
		{"xa_ocallcalllog_call-logs", "xa_ocallcalllog_call-logs", false},
		{"home_dashboard_access", "home_dashboard_access", false},
	}
	for _, tt := range tests {
		got, alias := Canonical(tt.in)
		if got != tt.want || alias != tt.wantAlias {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", tt.in, got, alias, tt.want, tt.wantAlias)
		}
	}
}

func TestLookupDoesNotResolveAliases(t *testing.T) {
	if _, ok := Lookup("xa_ocalLcalllog_call-logs"); ok {
		t.Error("Lookup accepted the alias; only Normalize and ParseCSV may")
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct{ in, want string }{
		{"xa_ocall_chat", "xa_icall_chat"},
		{"home_dashbord_access", "home_dashboard_access"},
		{"xa_ocalLcalllog_call-log", "xa_ocall_calllog_call-logs"},
		{"admin_policy", "admin_policies"},
		{"zzz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.in); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
