package web

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// An administrator of labels reads and replaces the outcomes and report
// fields over the API; bad lists are refused naming the entry and change
// nothing; whoever lacks the permission is refused naming it.
func TestHistorySettingsAPI(t *testing.T) {
	s, d := newTestServer(t)
	d.addUser("u1", adminEmail, testPass, policy.AdminLabels, policy.CallLogs)
	d.addUser("u2", "reader@plant.example", testPass, policy.CallLogs)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)

	var got storage.HistorySettings
	decodeBody(t, b.api("GET", historySettingsPath, ""), &got)
	if !reflect.DeepEqual(got, storage.DefaultHistorySettings("o1")) {
		t.Fatalf("settings never set = %+v, want the defaults", got)
	}

	for _, tt := range []struct{ name, body, says string }{
		{"duplicate key", `{"outcomes":[{"key":"fixed","name":"Fixed"},{"key":"fixed","name":"Again"}]}`, "outcomes[1].key"},
		{"empty name", `{"outcomes":[{"key":"fixed","name":" "}]}`, "outcomes[0].name is required"},
		{"key format", `{"outcomes":[{"key":"Fixed!","name":"Fixed"}]}`, "outcomes[0].key"},
		{"too many", `{"outcomes":[` + strings.Repeat(`{"key":"a","name":"A"},`, storage.MaxOutcomes) + `{"key":"a","name":"A"}]}`, "at most 20 outcomes"},
		{"unknown kind", `{"outcomes":[{"key":"fixed","name":"Fixed"}],"report_fields":[{"key":"x","label":"X","kind":"number"}]}`, "report_fields[0].kind"},
		{"no outcomes", `{"report_fields":[]}`, "outcomes is required"},
	} {
		a := b.api("PUT", historySettingsPath, tt.body)
		if e := errorBody(t, a); a.status != http.StatusBadRequest || e.Code != "invalid" || !strings.Contains(e.Error, tt.says) {
			t.Errorf("%s: PUT = %d %+v, want 400 saying %q", tt.name, a.status, e, tt.says)
		}
	}
	if c := d.changed(); len(c) != 0 {
		t.Fatalf("refused lists made changes: %v", c)
	}

	a := b.api("PUT", historySettingsPath, `{"outcomes":[{"key":"fixed","name":" Fixed on site "},{"key":"solved","name":"Solved"}],
		"report_fields":[{"key":"machine","label":"Machine","required":true},{"key":"findings","label":"Findings","kind":"long_text"}]}`)
	if a.status != http.StatusOK {
		t.Fatalf("PUT = %d %s", a.status, a.body)
	}
	want := storage.HistorySettings{OrgID: "o1",
		Outcomes: []storage.OutcomeDef{{Key: "fixed", Name: "Fixed on site"}, {Key: "solved", Name: "Solved"}},
		ReportFields: []storage.ReportFieldDef{{Key: "machine", Label: "Machine", Kind: storage.FieldText, Required: true},
			{Key: "findings", Label: "Findings", Kind: storage.FieldLongText}}}
	var after storage.HistorySettings
	decodeBody(t, b.api("GET", historySettingsPath, ""), &after)
	if !reflect.DeepEqual(after, want) {
		t.Errorf("settings after PUT = %+v, want %+v", after, want)
	}

	r := &browser{t: t, s: s}
	r.login("reader@plant.example", testPass)
	a = r.api("PUT", historySettingsPath, `{"outcomes":[{"key":"x","name":"X"}]}`)
	if e := errorBody(t, a); a.status != http.StatusForbidden || e.Permission != policy.AdminLabels {
		t.Errorf("PUT without %s = %d %+v, want 403 naming it", policy.AdminLabels, a.status, e)
	}
	if p := r.page("/history-settings"); p.status != http.StatusForbidden || !strings.Contains(p.body, policy.AdminLabels) {
		t.Errorf("the page without %s = %d", policy.AdminLabels, p.status)
	}
}

// The page shows the lists in rows with blank ones for new entries; a save
// leaves blank rows out and orders by position; an error names the row and
// shows what was typed.
func TestHistorySettingsPage(t *testing.T) {
	s, d := newTestServer(t)
	d.addUser("u1", adminEmail, testPass, policy.AdminLabels, policy.CallLogs)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)

	p := b.page("/history-settings")
	if p.status != http.StatusOK {
		t.Fatalf("GET = %d %s", p.status, p.body)
	}
	for _, w := range []string{`value="follow_up"`, `value="Follow-up needed"`, `value="Action taken"`, `name="_csrf"`, `href="/history-settings"`} {
		if !strings.Contains(p.body, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
	if n := strings.Count(p.body, `name="outcome_key"`); n != 3+blankRows {
		t.Errorf("%d outcome rows, want the 3 defaults and %d blank ones", n, blankRows)
	}

	bad := url.Values{
		"outcome_pos": {"1", "2", "3"}, "outcome_key": {"fixed", "", "fixed"}, "outcome_name": {"Fixed", "", "Again"},
	}
	got := b.form("/history-settings", bad)
	if got.status != http.StatusBadRequest || !strings.Contains(got.body, "Outcome 3: key") || !strings.Contains(got.body, "already the key") ||
		!strings.Contains(got.body, `value="Again"`) || !strings.Contains(got.body, `aria-invalid`) {
		t.Errorf("a duplicate key = %d; want 400 naming row 3 with what was typed:\n%s", got.status, got.body)
	}
	if c := d.changed(); len(c) != 0 {
		t.Fatalf("a refused save made changes: %v", c)
	}
	// Without the CSRF token nothing is saved.
	if got := b.form("/history-settings", url.Values{"_csrf": {"wrong"}, "outcome_key": {"x"}, "outcome_name": {"X"}}); got.status != http.StatusForbidden {
		t.Errorf("a save without the CSRF token = %d, want 403", got.status)
	}

	good := url.Values{
		"outcome_pos": {"2", "1", "3"}, "outcome_key": {"solved", "fixed", ""}, "outcome_name": {"Solved", "Fixed", ""},
		"outcome_solved": {"1"},
		"field_pos":      {"1", "2"}, "field_key": {"machine", ""}, "field_label": {"Machine", ""},
		"field_kind": {"long_text", "text"}, "field_hint": {"Which one", ""}, "field_required": {"0"},
	}
	if got := b.form("/history-settings", good); got.status != http.StatusSeeOther {
		t.Fatalf("save = %d %s", got.status, got.body)
	}
	h, _ := fakeOrg{d: d}.HistorySettings(t.Context(), "o1")
	want := storage.HistorySettings{OrgID: "o1",
		Outcomes:     []storage.OutcomeDef{{Key: "fixed", Name: "Fixed", Solved: true}, {Key: "solved", Name: "Solved"}},
		ReportFields: []storage.ReportFieldDef{{Key: "machine", Label: "Machine", Kind: storage.FieldLongText, Required: true, Hint: "Which one"}}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("saved %+v, want %+v", h, want)
	}
}

// The forms and filters offer the organisation's own lists; what was
// given before a key left them still shows, under its key.
func TestPagesUseTheOrganisationsLists(t *testing.T) {
	h := &pagedHistory{n: 3}
	rf := &reportsFake{}
	s, d := newTestServer(t, withServices, func(deps *Deps) { deps.History, deps.Reports, deps.Calls = h, rf, oneCall{} })
	d.addOrgRecords(d.org.ID, "own")
	d.addUser("u1", adminEmail, testPass, policy.CallLogs, policy.SeeAllCallLogs, policy.ServiceReports, policy.ReadServiceReports,
		policy.CreateServiceReport, policy.EditServiceReports)
	d.settings["o1"] = storage.HistorySettings{OrgID: "o1",
		Outcomes: []storage.OutcomeDef{{Key: "fixed", Name: "Fixed on site"}, {Key: "follow_up", Name: "Call back"}},
		ReportFields: []storage.ReportFieldDef{
			{Key: "machine", Label: "Machine", Kind: storage.FieldText, Required: true},
			{Key: "findings", Label: "Findings", Kind: storage.FieldLongText, Hint: "What you saw"}}}
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)

	// The history's rows have outcome solved, no longer in the list.
	got := b.page("/sessions?outcome=solved")
	for _, w := range []string{`<option value="fixed">Fixed on site</option>`, `<option value="follow_up">Call back</option>`,
		`<option value="solved" selected>solved</option>`, `<td>solved</td>`} {
		if !strings.Contains(got.body, w) {
			t.Errorf("the history page lacks %q", w)
		}
	}
	if strings.Contains(got.body, `>Not solved<`) {
		t.Error("the history page offers a default outcome the organisation replaced")
	}

	got = b.page("/sessions/s1/reports/new")
	machine, findings := strings.Index(got.body, `name="field_machine"`), strings.Index(got.body, `<textarea id="r-findings" name="field_findings"`)
	if got.status != http.StatusOK || machine < 0 || findings < 0 || machine > findings {
		t.Errorf("the new report form = %d; want the machine field, then the findings as long text:\n%s", got.status, got.body)
	}
	if !strings.Contains(got.body, `name="field_machine" type="text" maxlength="500" value="" required>`) ||
		!strings.Contains(got.body, `placeholder="What you saw">`) {
		t.Error("the machine field is not marked required, or the findings are")
	}
	if strings.Contains(got.body, `name="field_asset"`) {
		t.Error("the form offers a field the organisation replaced")
	}

	// Report r1 was written with asset and fault, no longer fields.
	got = b.page("/reports/r1")
	for _, w := range []string{"<dt>Machine</dt>", "<dt>asset <span class=\"muted small\">(no longer a report field)</span></dt><dd>Pump 4</dd>",
		"<dt>fault <span class=\"muted small\">(no longer a report field)</span></dt>"} {
		if !strings.Contains(got.body, w) {
			t.Errorf("the report page lacks %q", w)
		}
	}
	// An edit posts the organisation's fields only.
	if got := b.form("/reports/r1", url.Values{"version": {"2"}, "field_machine": {"P4"}, "field_asset": {"x"}, "body": {"b"}}); got.status != http.StatusSeeOther {
		t.Fatalf("edit = %d", got.status)
	}
	if in := rf.edited[0]; in.Fields["machine"] != "P4" || in.Fields["findings"] != "" || len(in.Fields) != 2 {
		t.Errorf("the edit posted fields %v, want machine and findings", in.Fields)
	}
}

// sessionWithOutcome is a session whose outcome is follow_up.
type sessionWithOutcome struct{ reportsFake }

func (sessionWithOutcome) SessionFields(_ context.Context, _ Actor, id string) (storage.SessionSummary, error) {
	return storage.SessionSummary{Session: storage.Session{ID: id}, Outcome: "follow_up"}, nil
}

// The session page names its outcome as the organisation words it.
func TestSessionPageNamesTheOutcome(t *testing.T) {
	s, d := newTestServer(t, withServices, func(deps *Deps) {
		deps.History, deps.Reports, deps.Calls, deps.Media = &pagedHistory{n: 1}, &sessionWithOutcome{}, oneCall{}, &mediaFake{}
	})
	d.addOrgRecords(d.org.ID, "own")
	d.addUser("u1", adminEmail, testPass, policy.CallLogs, policy.SeeAllCallLogs)
	d.settings["o1"] = storage.HistorySettings{OrgID: "o1", Outcomes: []storage.OutcomeDef{{Key: "follow_up", Name: "Call back"}}}
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)
	got := b.page("/sessions/s1")
	if got.status != http.StatusOK || !strings.Contains(got.body, `<span class="sub">Call back`) {
		t.Errorf("the session page = %d, its fields' heading does not name the outcome Call back:\n%s", got.status, got.body)
	}
}
