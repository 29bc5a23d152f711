package node

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// exportPolicy returns the organisation's policy as casbin CSV.
func exportPolicy(t *testing.T, b *browser) string {
	t.Helper()
	st, data := b.raw("GET", "/api/v1/policy/export", "", nil)
	if st != 200 {
		t.Fatalf("export = %d %s", st, data)
	}
	return string(data)
}

func importPolicy(t *testing.T, b *browser, csv string) (int, web.PolicyResult, web.ErrorBody) {
	t.Helper()
	data, _ := json.Marshal(web.ImportInput{CSV: csv, Note: "test import"})
	st, body := b.raw("POST", "/api/v1/policy/import", "application/json", strings.NewReader(string(data)))
	var res web.PolicyResult
	var e web.ErrorBody
	if st == 200 {
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
	} else {
		e = apiError(t, body)
	}
	return st, res, e
}

func versionCount(t *testing.T, b *browser) int {
	t.Helper()
	var vs []storage.PolicyVersion
	if st := b.do("GET", "/api/v1/policy/versions", nil, &vs); st != 200 {
		t.Fatalf("versions = %d", st)
	}
	return len(vs)
}

func TestPolicyImportExportRoundTrip(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	first := exportPolicy(t, b)
	if !strings.Contains(first, "p, role:administrator, "+tn.n.OrgID()+", admin_policies") {
		t.Fatalf("export lacks the administrator's grant:\n%s", first)
	}
	// Importing what was exported changes nothing.
	st, res, e := importPolicy(t, b, first)
	if st != 200 || res.Changed {
		t.Fatalf("re-import = %d %+v %v", st, res, e)
	}
	// An edited document (a new role, a grant removed) is applied whole;
	// export, import, export again gives the same policy.
	org := tn.n.OrgID()
	edited := strings.Replace(first, "p, role:regular, "+org+", xa_ocall_phonebook-editor\n", "", 1) +
		"p, role:line_expert, " + org + ", xa_icall_chat\ng, role:line_expert, role:regular, " + org + "\n"
	st, res, e = importPolicy(t, b, edited)
	if st != 200 || !res.Changed || res.Added != 2 || res.Removed != 1 {
		t.Fatalf("import edited = %d %+v %v", st, res, e)
	}
	if !slices.Contains(res.Warnings, "role line_expert created") {
		t.Errorf("warnings = %q, want the new role named", res.Warnings)
	}
	second := exportPolicy(t, b)
	if st, res, _ := importPolicy(t, b, second); st != 200 || res.Changed {
		t.Fatalf("import of the second export = %d %+v", st, res)
	}
	if third := exportPolicy(t, b); third != second {
		t.Fatalf("export, import, export differ:\n%s\n---\n%s", second, third)
	}
	if strings.Contains(second, "xa_ocall_phonebook-editor") && strings.Contains(second, "role:regular, "+org+", xa_ocall_phonebook-editor") {
		t.Errorf("removed line still exported")
	}
}

func TestPolicyImportIsAllOrNothing(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	org := tn.n.OrgID()
	before := exportPolicy(t, b)
	versions := versionCount(t, b)
	for _, tt := range []struct {
		name, csv, want string
	}{
		{"unknown permission on line 3",
			"p, role:regular, " + org + ", xa_icall_chat\n# comment\np, role:regular, " + org + ", xa_ocall_chat\n",
			`unknown permission "xa_ocall_chat" on line 3 (did you mean "xa_icall_chat"?)`},
		{"malformed quote on line 2",
			"p, role:regular, " + org + ", xa_icall_chat\np, \"role:x, " + org + "\n",
			"line 2"},
		{"other organisation on line 1",
			"p, role:regular, elsewhere, xa_icall_chat\n",
			`domain "elsewhere" is not organisation "` + org + `" on line 1`},
	} {
		st, _, e := importPolicy(t, b, tt.csv)
		if st != 400 || !strings.Contains(e.Error, tt.want) {
			t.Errorf("%s: import = %d %q, want 400 naming %q", tt.name, st, e.Error, tt.want)
		}
	}
	if after := exportPolicy(t, b); after != before {
		t.Errorf("a refused import changed the policy")
	}
	if n := versionCount(t, b); n != versions {
		t.Errorf("versions = %d after refused imports, want %d", n, versions)
	}
}

func TestPolicyValidation(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	var e web.ErrorBody

	// Lock-out: the administrator role is the only holder of admin_policies.
	st, data := b.raw("POST", "/api/v1/policy/revoke", "application/json",
		strings.NewReader(`{"subject":"role:administrator","permission":"admin_policies"}`))
	if e = apiError(t, data); st != 409 || !strings.Contains(e.Error, "would leave no active user with admin_policies") {
		t.Errorf("lock-out revoke = %d %q", st, e.Error)
	}
	// Nor may an import drop it.
	org := tn.n.OrgID()
	if st, _, e := importPolicy(t, b, "p, role:regular, "+org+", xa_icall_chat\n"); st != 409 || !strings.Contains(e.Error, "admin_policies") {
		t.Errorf("lock-out import = %d %q", st, e.Error)
	}
	var me meJSON
	b.do("GET", "/api/v1/me", nil, &me)
	if !slices.Contains(me.Permissions, policy.AdminPolicies) {
		t.Fatalf("administrator lost admin_policies")
	}

	// The documented typo spelling is accepted with a warning.
	if _, err := tn.n.store.UserByEmail(t.Context(), org, "admin@siteline.local"); err != nil {
		t.Fatal(err)
	}
	var res web.PolicyResult
	if st := b.do("POST", "/api/v1/policy/grant", web.GrantInput{Subject: "team_member", Permission: "xa_ocalLcalllog_call-logs"}, &res); st != 200 {
		t.Fatalf("alias grant = %d", st)
	}
	if !res.Changed || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `"xa_ocalLcalllog_call-logs" is the misspelt alias of "xa_ocall_calllog_call-logs"`) {
		t.Errorf("alias grant = %+v", res)
	}
	if !strings.Contains(exportPolicy(t, b), "p, role:team_member, "+org+", xa_ocall_calllog_call-logs\n") {
		t.Errorf("alias not stored under the corrected id")
	}

	// An unknown id is refused with the nearest known one.
	st, data = b.raw("POST", "/api/v1/policy/grant", "application/json",
		strings.NewReader(`{"subject":"role:regular","permission":"xa_ocall_chat"}`))
	if e = apiError(t, data); st != 400 || e.Error != `unknown permission "xa_ocall_chat" (did you mean "xa_icall_chat"?)` {
		t.Errorf("unknown id = %d %q", st, e.Error)
	}
	// Unknown subjects are named.
	st, data = b.raw("POST", "/api/v1/policy/grant", "application/json",
		strings.NewReader(`{"subject":"role:nobody","permission":"xa_icall_chat"}`))
	if e = apiError(t, data); st != 400 || !strings.Contains(e.Error, `"nobody" is not a role`) {
		t.Errorf("unknown role = %d %q", st, e.Error)
	}
}

// TestPolicyChangeTakesEffectOnNextRequest: a logged-in user's next
// request sees a revoke and a grant, with no reload and no new login.
func TestPolicyChangeTakesEffectOnNextRequest(t *testing.T) {
	tn := startNode(t, Config{})
	admin := tn.admin()
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: "correct horse battery", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create user = %d", st)
	}
	tech := tn.login("tech@plant.example", "correct horse battery")
	if st := tech.do("GET", "/api/v1/contacts", nil, nil); st != 200 {
		t.Fatalf("contacts before = %d", st)
	}
	revoke := web.GrantInput{Subject: "role:regular", Permission: policy.ContactList}
	if st := admin.do("POST", "/api/v1/policy/revoke", revoke, nil); st != 200 {
		t.Fatalf("revoke = %d", st)
	}
	st, data := tech.raw("GET", "/api/v1/contacts", "", nil)
	if e := apiError(t, data); st != 403 || e.Permission != policy.ContactList {
		t.Fatalf("contacts after revoke = %d %+v", st, e)
	}
	if st := admin.do("POST", "/api/v1/policy/grant", revoke, nil); st != 200 {
		t.Fatalf("grant = %d", st)
	}
	if st := tech.do("GET", "/api/v1/contacts", nil, nil); st != 200 {
		t.Fatalf("contacts after grant = %d", st)
	}

	// The audit log has who, and the before/after difference.
	var events []storage.AuditEvent
	admin.do("GET", "/api/v1/audit?action=policy.", nil, &events)
	if len(events) < 2 || events[0].Action != "policy.grant" || events[1].Action != "policy.revoke" {
		t.Fatalf("audit = %+v", events)
	}
	var detail struct {
		Added, Removed []string
		Version        string
	}
	if err := json.Unmarshal([]byte(events[1].Detail), &detail); err != nil {
		t.Fatal(err)
	}
	want := "p, role:regular, " + tn.n.OrgID() + ", " + policy.ContactList
	if len(detail.Removed) != 1 || detail.Removed[0] != want || len(detail.Added) != 0 || detail.Version == "" || events[1].ActorID == "" {
		t.Errorf("revoke audit = %+v %s", events[1], events[1].Detail)
	}
}

func TestPolicyVersionsRestore(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	original := exportPolicy(t, b)
	for _, p := range []string{policy.PhonebookEditor, policy.ContactList} {
		if st := b.do("POST", "/api/v1/policy/revoke", web.GrantInput{Subject: "regular", Permission: p}, nil); st != 200 {
			t.Fatalf("revoke %s = %d", p, st)
		}
	}
	var vs []storage.PolicyVersion
	b.do("GET", "/api/v1/policy/versions", nil, &vs)
	// The state before the first change, then one version per change.
	if len(vs) != 3 || vs[2].ActorID != "system" || !strings.Contains(vs[0].Note, policy.ContactList) {
		t.Fatalf("versions = %+v", vs)
	}
	var v storage.PolicyVersion
	if st := b.do("GET", "/api/v1/policy/versions/"+vs[2].ID, nil, &v); st != 200 || len(v.Rules) != vs[2].Lines || v.Lines == 0 {
		t.Fatalf("version = %d, %d rules, %d lines", st, len(v.Rules), vs[2].Lines)
	}
	var res web.PolicyResult
	if st := b.do("POST", "/api/v1/policy/versions/"+vs[2].ID+"/restore", map[string]string{"note": "undo"}, &res); st != 200 || res.Added != 2 {
		t.Fatalf("restore = %d %+v", st, res)
	}
	if got := exportPolicy(t, b); got != original {
		t.Errorf("restored policy differs:\n%s\n---\n%s", original, got)
	}
	if st := b.do("POST", "/api/v1/policy/versions/nope/restore", map[string]string{}, nil); st != 404 {
		t.Errorf("restore of an unknown version = %d, want 404", st)
	}
}

// TestPolicyRolesAndTeams: a role inherits another, a team is given a role
// and its members hold it while they are members.
func TestPolicyRolesAndTeams(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	var u userJSON
	if st := b.do("POST", "/api/v1/users", web.UserInput{Email: "lead@plant.example", Password: "correct horse battery", Roles: []string{}}, &u); st != 201 {
		t.Fatalf("create user = %d", st)
	}
	if st := b.do("POST", "/api/v1/policy/roles", web.RoleInput{Name: "shift_lead", Description: "leads a shift", Inherits: []string{"team_lead"}}, nil); st != 201 {
		t.Fatalf("create role = %d", st)
	}
	var team storage.Team
	b.do("POST", "/api/v1/teams", map[string]string{"name": "Line 3"}, &team)
	if st := b.do("POST", "/api/v1/policy/assign", web.AssignInput{Subject: "team:Line 3", Role: "shift_lead"}, nil); st != 200 {
		t.Fatalf("assign team = %d", st)
	}
	check := func(want bool) {
		t.Helper()
		var res web.CheckResult
		q := url.Values{"q": {"can lead@plant.example do " + policy.CallSitIn + "?"}}
		if st := b.do("GET", "/api/v1/policy/check?"+q.Encode(), nil, &res); st != 200 {
			t.Fatalf("check = %d", st)
		}
		if res.Allowed != want {
			t.Fatalf("check = %+v, want allowed=%v", res, want)
		}
		if want && (len(res.Rule) != 3 || res.Rule[0] != "role:team_lead" || !strings.Contains(res.Explanation, "role:team_lead")) {
			t.Errorf("explanation = %+v", res)
		}
	}
	check(false)
	if st := b.do("PUT", "/api/v1/teams/"+team.ID+"/members/"+u.ID, map[string]string{"role": "member"}, nil); st != 204 {
		t.Fatalf("add member = %d", st)
	}
	check(true)
	// A cycle is refused.
	st, data := b.raw("POST", "/api/v1/policy/assign", "application/json", strings.NewReader(`{"subject":"role:team_lead","role":"shift_lead"}`))
	if e := apiError(t, data); st != 400 || !strings.Contains(e.Error, "cycle") {
		t.Errorf("cycle = %d %q", st, e.Error)
	}
	// The export leaves memberships out; an import keeps them.
	csv := exportPolicy(t, b)
	if strings.Contains(csv, "team:"+team.ID+", ") && strings.Contains(csv, "user:"+u.ID+", team:") {
		t.Errorf("export holds membership lines:\n%s", csv)
	}
	if st, _, e := importPolicy(t, b, csv); st != 200 {
		t.Fatalf("import = %d %v", st, e)
	}
	check(true)
	if st := b.do("DELETE", "/api/v1/teams/"+team.ID+"/members/"+u.ID, nil, nil); st != 204 {
		t.Fatalf("remove member = %d", st)
	}
	check(false)
	var roles []web.RoleInfo
	b.do("GET", "/api/v1/policy/roles", nil, &roles)
	i := slices.IndexFunc(roles, func(r web.RoleInfo) bool { return r.Name == "shift_lead" })
	if i < 0 || !slices.Equal(roles[i].Inherits, []string{"team_lead"}) || !slices.Equal(roles[i].Teams, []string{team.ID}) {
		t.Errorf("roles = %+v", roles)
	}
	if st := b.do("DELETE", "/api/v1/policy/roles/shift_lead", nil, nil); st != 200 {
		t.Errorf("delete role = %d", st)
	}
	if strings.Contains(exportPolicy(t, b), "shift_lead") {
		t.Errorf("deleted role still in the policy")
	}
}

// TestPolicyPages: the backoffice's policy tabs render, a matrix cell
// revokes with a form post, and the check form answers with the rule.
func TestPolicyPages(t *testing.T) {
	tn := startNode(t, Config{})
	p := tn.uiLogin(tn.cfg.Organisation.AdminEmail, tn.password)
	for _, path := range []string{"/policy", "/policy/roles", "/policy/raw", "/policy/versions", "/policy/check"} {
		if st, _ := p.get(path); st != 200 {
			t.Errorf("GET %s = %d", path, st)
		}
	}
	p.get("/policy")
	st, _, loc := p.post("/policy/cell", url.Values{"role": {"regular"}, "permission": {policy.PhonebookEditor}, "grant": {"0"}}, true)
	if st != 303 || !strings.HasPrefix(loc, "/policy") {
		t.Fatalf("cell post = %d %s", st, loc)
	}
	_, html := p.get("/policy")
	if !strings.Contains(html, `data-role="regular" data-perm="`+policy.PhonebookEditor+`" data-granted="false"`) {
		t.Errorf("matrix does not show the revoke")
	}
	// Lock-out is shown on the page, not applied.
	st, html, _ = p.post("/policy/cell", url.Values{"role": {"administrator"}, "permission": {policy.AdminPolicies}, "grant": {"0"}}, true)
	if st != 409 || !strings.Contains(html, "would leave no active user") {
		t.Errorf("lock-out cell post = %d", st)
	}
	_, html = p.get("/policy/check?q=" + url.QueryEscape("can "+tn.cfg.Organisation.AdminEmail+" do admin_policies?"))
	if !strings.Contains(html, `data-allowed="true"`) || !strings.Contains(html, "p, role:administrator, "+tn.n.OrgID()+", admin_policies") {
		t.Errorf("check page does not explain:\n%s", html)
	}
	_, html = p.get("/policy/versions")
	if !strings.Contains(html, "revoke "+policy.PhonebookEditor) {
		t.Errorf("versions page lacks the change")
	}
}
