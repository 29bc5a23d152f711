package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// fakePeople keeps the labels it is given and the files it is sent; a
// file with "bad" in it is refused naming its line 3.
type fakePeople struct {
	mu     sync.Mutex
	labels map[string][]string
	files  []string
}

func (f *fakePeople) SetUserLabels(_ context.Context, _ Actor, userID string, labelIDs []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.labels == nil {
		f.labels = map[string][]string{}
	}
	f.labels[userID] = labelIDs
	return nil
}

func (f *fakePeople) read(r io.Reader) (ImportResult, error) {
	b, _ := io.ReadAll(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Contains(string(b), "bad") {
		return ImportResult{}, &storage.ValidationError{Field: "csv", Problem: `line 3: email "bad" is not an e-mail address`}
	}
	f.files = append(f.files, string(b))
	return ImportResult{Imported: strings.Count(string(b), "\n") - 1}, nil
}

func (f *fakePeople) ImportMembers(_ context.Context, _ Actor, r io.Reader) (ImportResult, error) {
	return f.read(r)
}

func (f *fakePeople) ImportContacts(_ context.Context, _ Actor, r io.Reader) (ImportResult, error) {
	return f.read(r)
}

var (
	lastSeen = time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)
	lastCall = time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC)
)

// fakeActivity labels u-welder with l-weld; u-welder logged in and called.
type fakeActivity struct{}

func (fakeActivity) UserLabels(context.Context, string) (map[string][]string, error) {
	return map[string][]string{"u-welder": {"l-weld"}}, nil
}

func (fakeActivity) LastLogins(context.Context, string) (map[string]time.Time, error) {
	return map[string]time.Time{"u-welder": lastSeen}, nil
}

func (fakeActivity) LastCalls(context.Context, string) (map[string]time.Time, error) {
	return map[string]time.Time{"u-welder": lastCall}, nil
}

// labelledOrg adds a label group with one label to the fake organisation.
type labelledOrg struct{ fakeOrg }

func (labelledOrg) LabelGroups(context.Context, string) ([]storage.LabelGroup, error) {
	return []storage.LabelGroup{{ID: "g-skill", OrgID: "o1", Name: "Skill", Color: "#aa0000"}}, nil
}

func (labelledOrg) Labels(context.Context, string) ([]storage.Label, error) {
	return []storage.Label{{ID: "l-weld", OrgID: "o1", GroupID: "g-skill", Name: "Welder"}}, nil
}

// rolesAuthz gives u-welder the role team_lead.
type rolesAuthz struct{ fakeAuthz }

func (rolesAuthz) Roles(_, userID string) []string {
	if userID == "u-welder" {
		return []string{policy.RoleTeamLead}
	}
	return nil
}

func withPeople(p *fakePeople, m *fakeMembers) func(*Deps) {
	return func(d *Deps) {
		d.People, d.Activity, d.Members = p, fakeActivity{}, m
		d.Org = labelledOrg{d.Org.(fakeOrg)}
		d.Authz = rolesAuthz{d.Authz.(fakeAuthz)}
	}
}

// memberEmails are the members a users page lists, in order.
func memberEmails(body string) []string {
	var out []string
	for _, part := range strings.Split(body, `data-member="`)[1:] {
		out = append(out, part[:strings.IndexByte(part, '"')])
	}
	return out
}

// An invitation whose link ran out is listed with the invited, marked
// expired in the page and the API.
func TestMembersListMarksExpiredInvitations(t *testing.T) {
	people, members := &fakePeople{}, &fakeMembers{}
	_, d, admin, _ := loggedIn(t, withPeople(people, members))
	members.d = d
	if _, err := members.InviteMembers(context.Background(), Actor{OrgID: "o1"},
		MemberInviteInput{Emails: []string{"late@plant.example", "new@plant.example"}}); err != nil {
		t.Fatal(err)
	}
	page := admin.page("/users?status=invited")
	row := func(email string) string {
		at := strings.Index(page.body, `data-member="`+email+`"`)
		if at < 0 {
			t.Fatalf("the invited list lacks %s", email)
		}
		r := page.body[at:]
		return r[:strings.Index(r, "</tr>")]
	}
	if r := row("late@plant.example"); !strings.Contains(r, "Invitation expired") {
		t.Errorf("the expired invitation's row does not say so:\n%s", r)
	}
	if r := row("new@plant.example"); strings.Contains(r, "expired") || !strings.Contains(r, ">Invited<") {
		t.Errorf("the pending invitation's row:\n%s", r)
	}
	var rows []personRow
	decodeBody(t, admin.api("GET", APIPrefix+"/users?status=invited", ""), &rows)
	for _, r := range rows {
		if r.InvitationExpired != (r.Email == "late@plant.example") {
			t.Errorf("GET /users?status=invited: %s invitation_expired = %v", r.Email, r.InvitationExpired)
		}
	}
}

func TestMembersListFiltersFromTheURL(t *testing.T) {
	people, members := &fakePeople{}, &fakeMembers{}
	_, d, admin, nobody := loggedIn(t, withPeople(people, members))
	members.d = d
	d.addUser("u-welder", "wes@plant.example", testPass)
	off := d.addUser("u-gone", "gone@plant.example", testPass)
	off.Active = false
	d.users[off.ID] = off
	d.teams["t-night"] = storage.Team{ID: "t-night", OrgID: "o1", Name: "Night"}
	d.members = append(d.members, storage.TeamMembership{TeamID: "t-night", UserID: "u-gone"})
	if _, err := members.InviteMembers(context.Background(), Actor{OrgID: "o1"}, MemberInviteInput{Emails: []string{"new@plant.example"}}); err != nil {
		t.Fatal(err)
	}

	all := admin.page("/users")
	if all.status != http.StatusOK {
		t.Fatalf("users page = %d", all.status)
	}
	if got := memberEmails(all.body); len(got) != 5 || got[4] != "new@plant.example" {
		t.Fatalf("all members = %v: want the 4 users and then the one invited", got)
	}
	// The welder's row shows the label in its group's colour, the role,
	// the last login and the last call.
	row := all.body[strings.Index(all.body, `data-member="wes@plant.example"`):]
	row = row[:strings.Index(row, "</tr>")]
	for _, want := range []string{`class="chip"`, "--chip:#aa0000", ">Welder<", "Team lead", formatTime(lastSeen), formatTime(lastCall)} {
		if !strings.Contains(strings.ToLower(row), strings.ToLower(want)) {
			t.Errorf("the welder's row lacks %q:\n%s", want, row)
		}
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?status=invited", []string{"new@plant.example"}},
		{"?status=deactivated", []string{"gone@plant.example"}},
		{"?label=l-weld", []string{"wes@plant.example"}},
		{"?role=team_lead", []string{"wes@plant.example"}},
		{"?team=t-night", []string{"gone@plant.example"}},
		{"?q=WES", []string{"wes@plant.example"}},
		{"?q=plant.example&status=active&label=l-weld", []string{"wes@plant.example"}},
		{"?q=nobody-by-that-name", nil},
	} {
		got := admin.page("/users" + c.query)
		if got.status != http.StatusOK || !slices.Equal(memberEmails(got.body), c.want) {
			t.Errorf("/users%s = %d %v, want %v", c.query, got.status, memberEmails(got.body), c.want)
		}
		// The view keeps its filters: its export link exports the same.
		if c.query != "" && !strings.Contains(got.body, `href="/api/v1/users/export.csv?`) {
			t.Errorf("/users%s: the export link does not carry the filters", c.query)
		}
	}
	if got := admin.page("/users?status=gone"); got.status != http.StatusBadRequest || !strings.Contains(got.body, "active, invited or deactivated") {
		t.Errorf("bad status = %d", got.status)
	}

	// The API: the same filters, invitations only on request, pages.
	var rows []personRow
	got := admin.api("GET", APIPrefix+"/users?label=l-weld", "")
	decodeBody(t, got, &rows)
	if len(rows) != 1 || rows[0].ID != "u-welder" || rows[0].LastLogin == nil || !rows[0].LastLogin.Equal(lastSeen) ||
		rows[0].LastCall == nil || !rows[0].LastCall.Equal(lastCall) || len(rows[0].Labels) != 1 || rows[0].Labels[0].Group != "Skill" {
		t.Fatalf("GET /users?label=l-weld = %s", got.body)
	}
	decodeBody(t, admin.api("GET", APIPrefix+"/users", ""), &rows)
	if len(rows) != 4 || slices.ContainsFunc(rows, func(r personRow) bool { return r.Status == MemberInvited }) {
		t.Fatalf("GET /users lists %d, want the 4 users and no invitation", len(rows))
	}
	decodeBody(t, admin.api("GET", APIPrefix+"/users?status=invited", ""), &rows)
	if len(rows) != 1 || rows[0].Email != "new@plant.example" || rows[0].InvitationID == "" {
		t.Fatalf("GET /users?status=invited = %+v", rows)
	}
	got = admin.api("GET", APIPrefix+"/users?per_page=3&page=2", "")
	decodeBody(t, got, &rows)
	if len(rows) != 1 || got.header.Get("X-Total-Count") != "4" {
		t.Fatalf("page 2 of 3 = %d rows, total %q", len(rows), got.header.Get("X-Total-Count"))
	}
	if got := nobody.api("GET", APIPrefix+"/users/export.csv", ""); got.status != http.StatusForbidden || !strings.Contains(got.body, policy.AdminMembers) {
		t.Errorf("export without the permission = %d %s", got.status, got.body)
	}
}

func TestMembersListPages(t *testing.T) {
	_, d, admin, _ := loggedIn(t, withPeople(&fakePeople{}, &fakeMembers{}))
	for i := range 2 * membersPerPage {
		d.addUser(fmt.Sprintf("u%03d", i), fmt.Sprintf("p%03d@plant.example", i), testPass)
	}
	first := admin.page("/users")
	second := admin.page("/users?page=2")
	third := admin.page("/users?page=3")
	n1, n2, n3 := len(memberEmails(first.body)), len(memberEmails(second.body)), len(memberEmails(third.body))
	if n1 != membersPerPage || n2 != membersPerPage || n3 != 2 {
		t.Fatalf("pages of %d, %d and %d members; want %d, %d and 2", n1, n2, n3, membersPerPage, membersPerPage)
	}
	if !strings.Contains(first.body, `href="/users?page=2"`) || !strings.Contains(third.body, `href="/users?page=2"`) {
		t.Error("the pages do not link to each other")
	}
	if slices.ContainsFunc(memberEmails(second.body), func(e string) bool { return slices.Contains(memberEmails(first.body), e) }) {
		t.Error("a member is on two pages")
	}
}

// multipartForm is a form with a file, as a browser uploads it.
func multipartForm(t *testing.T, csrf, file string) (string, string) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if csrf != "" {
		if err := w.WriteField("_csrf", csrf); err != nil {
			t.Fatal(err)
		}
	}
	part, err := w.CreateFormFile("file", "people.csv")
	if err != nil {
		t.Fatal(err)
	}
	part.Write([]byte(file))
	w.Close()
	return w.FormDataContentType(), body.String()
}

func TestImportsByUploadAndAPI(t *testing.T) {
	people, members := &fakePeople{}, &fakeMembers{}
	_, d, admin, nobody := loggedIn(t, withPeople(people, members))
	members.d = d
	d.perms["u1"] = append(d.perms["u1"], policy.PhonebookEditor, policy.ContactList)
	const file = "email,roles\nann@plant.example,regular\nbob@plant.example,\n"

	page := admin.page("/users")
	if !strings.Contains(page.body, `enctype="multipart/form-data"`) || !strings.Contains(page.body, "<code>email,roles,teams,labels</code>") {
		t.Fatal("the users page lacks the import form and its columns")
	}
	ct, body := multipartForm(t, admin.csrf, file)
	got := admin.send("POST", "/users/import", ct, body, "Accept", "text/html")
	if got.status != http.StatusSeeOther || len(people.files) != 1 || people.files[0] != file {
		t.Fatalf("upload = %d; files %q", got.status, people.files)
	}
	// A refused file: the page names the line and shows the form again.
	ct, body = multipartForm(t, admin.csrf, file+"bad,,\n")
	got = admin.send("POST", "/users/import", ct, body, "Accept", "text/html")
	if got.status != http.StatusBadRequest || !strings.Contains(got.body, "line 3: email") {
		t.Fatalf("bad file = %d:\n%s", got.status, got.body)
	}
	// Without the CSRF token, nothing is read.
	ct, body = multipartForm(t, "", file)
	if got := admin.send("POST", "/users/import", ct, body, "Accept", "text/html"); got.status != http.StatusForbidden || len(people.files) != 1 {
		t.Fatalf("upload without CSRF = %d, %d files read", got.status, len(people.files))
	}
	// Contacts: the phonebook editor's permission, named when missing.
	ct, body = multipartForm(t, nobody.csrf, "name\nVera\n")
	if got := nobody.send("POST", "/contacts/import", ct, body, "Accept", "text/html"); got.status != http.StatusForbidden ||
		!strings.Contains(got.body, policy.PhonebookEditor) {
		t.Fatalf("contacts upload without the permission = %d", got.status)
	}
	if page := admin.page("/contacts"); !strings.Contains(page.body, `action="/contacts/import"`) || !strings.Contains(page.body, "/api/v1/contacts/export.csv") {
		t.Fatal("the contacts page lacks the import form or the export link")
	}

	// The API takes text/csv.
	got = admin.send("POST", APIPrefix+"/contacts/import", "text/csv; charset=utf-8", "name\nVera\nOtto\n", CSRFHeader, admin.csrf)
	var res ImportResult
	decodeBody(t, got, &res)
	if got.status != http.StatusOK || res.Imported != 2 || people.files[len(people.files)-1] != "name\nVera\nOtto\n" {
		t.Fatalf("API import = %d %s", got.status, got.body)
	}
	if got := admin.api("POST", APIPrefix+"/users/import", `{"email":"x"}`); got.status != http.StatusUnsupportedMediaType {
		t.Errorf("JSON import = %d, want 415", got.status)
	}
	got = admin.send("POST", APIPrefix+"/users/import", "text/csv", "email\nbad\n", CSRFHeader, admin.csrf)
	if e := errorBody(t, got); got.status != http.StatusBadRequest || !strings.Contains(e.Error, "line 3") {
		t.Errorf("bad API import = %d %+v", got.status, e)
	}

	// Labels from the user page.
	d.addUser("u-welder", "wes@plant.example", testPass)
	if page := admin.page("/users/u-welder"); !strings.Contains(page.body, `name="labels" value="l-weld" checked`) {
		t.Fatal("the user page does not show the welder's label as applied")
	}
	got = admin.form("/users/u-welder/labels", map[string][]string{"labels": {"l-weld"}})
	if got.status != http.StatusSeeOther || !slices.Equal(people.labels["u-welder"], []string{"l-weld"}) {
		t.Fatalf("apply labels = %d, %v", got.status, people.labels)
	}
}

func TestExportsAreSafeFromFormulas(t *testing.T) {
	_, d, admin, _ := loggedIn(t, withPeople(&fakePeople{}, &fakeMembers{}))
	d.perms["u1"] = append(d.perms["u1"], policy.ContactList)
	d.contacts["c-evil"] = storage.Contact{ID: "c-evil", OrgID: "o1", Name: `=HYPERLINK("http://evil.example","x")`, Phone: "+41 22", Notes: "@SUM(A1)"}
	evil := d.addUser("u-evil", "evil@plant.example", testPass)
	evil.Name = "-2+3"
	d.users[evil.ID] = evil

	got := admin.send("GET", APIPrefix+"/contacts/export.csv", "", "")
	if got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("contacts export = %d %s", got.status, got.header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(got.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], ContactCSVColumns) || len(recs) != 2 {
		t.Fatalf("contacts export = %q", recs)
	}
	if r := recs[1]; r[0] != `'=HYPERLINK("http://evil.example","x")` || r[2] != "'+41 22" || r[4] != "'@SUM(A1)" {
		t.Errorf("contact cells not made safe: %q", r)
	}

	got = admin.send("GET", APIPrefix+"/users/export.csv?q=evil", "", "")
	recs, err = csv.NewReader(strings.NewReader(got.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !slices.Equal(recs[0][:4], MemberCSVColumns) || recs[1][0] != "evil@plant.example" || recs[1][4] != "'-2+3" {
		t.Fatalf("users export filtered by q=evil = %q", recs)
	}
}
