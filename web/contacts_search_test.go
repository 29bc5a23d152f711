package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// phonebookOf puts n contacts in o1's phonebook and two in o2's, and
// returns o1's ids in the phonebook's order.
func phonebookOf(d *fakeData, n int) []string {
	var ids []string
	for i := range n {
		ct := storage.Contact{ID: fmt.Sprintf("c-%04d", i), OrgID: "o1", Name: fmt.Sprintf("Contact %04d", i), Company: []string{"Acme", "Bolt"}[i%2]}
		d.contacts[ct.ID] = ct
		ids = append(ids, ct.ID)
	}
	for _, id := range []string{"c-other-1", "c-other-2"} {
		d.contacts[id] = storage.Contact{ID: id, OrgID: "o2", Name: "Acme " + id}
	}
	return ids
}

// The contacts API lists the whole phonebook without paging parameters,
// as it did before paging existed, and one page with them: walked by
// cursor or by page number, the pages hold every match once, in order,
// never another organisation's contact.
func TestContactsAPIPages(t *testing.T) {
	_, d, admin, _ := loggedIn(t)
	d.perms["u1"] = append(d.perms["u1"], policy.ContactList)
	ids := phonebookOf(d, 1203)
	var acme []string
	for i, id := range ids {
		if i%2 == 0 {
			acme = append(acme, id)
		}
	}

	got := admin.send("GET", APIPrefix+"/contacts", "", "")
	var all []storage.Contact
	decodeBody(t, got, &all)
	if got.status != http.StatusOK || got.header.Get(TotalCountHeader) != "1203" || !slices.Equal(contactIDsOf(all), ids) {
		t.Fatalf("every contact = %d, total %q, %d contacts", got.status, got.header.Get(TotalCountHeader), len(all))
	}

	var walked []string
	next := APIPrefix + "/contacts?q=ACME&limit=100"
	for pages := 0; next != ""; pages++ {
		got := admin.send("GET", next, "", "")
		var page []storage.Contact
		decodeBody(t, got, &page)
		if got.status != http.StatusOK || got.header.Get(TotalCountHeader) != fmt.Sprint(len(acme)) || len(page) > 100 {
			t.Fatalf("page %d = %d, total %q, %d contacts", pages, got.status, got.header.Get(TotalCountHeader), len(page))
		}
		walked = append(walked, contactIDsOf(page)...)
		next = ""
		if c := got.header.Get(NextCursorHeader); c != "" {
			next = APIPrefix + "/contacts?q=ACME&limit=100&cursor=" + c
		}
	}
	if !slices.Equal(walked, acme) {
		t.Fatalf("walked by cursor: %d contacts, want %d", len(walked), len(acme))
	}

	got = admin.send("GET", APIPrefix+"/contacts?q=acme&page=3&limit=250", "", "")
	var third []storage.Contact
	decodeBody(t, got, &third)
	if got.status != http.StatusOK || !slices.Equal(contactIDsOf(third), acme[500:]) || got.header.Get(NextCursorHeader) != "" {
		t.Errorf("page 3 = %d: %d contacts, next %q", got.status, len(third), got.header.Get(NextCursorHeader))
	}
	got = admin.send("GET", APIPrefix+"/contacts?q=c-other", "", "")
	if got.status != http.StatusOK || strings.TrimSpace(got.body) != "[]" || got.header.Get(TotalCountHeader) != "0" {
		t.Errorf("another organisation's contacts = %d %s", got.status, got.body)
	}
}

func contactIDsOf(cs []storage.Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// Bad paging parameters are a 400 naming the parameter.
func TestContactsAPIRefusesBadParameters(t *testing.T) {
	_, d, admin, _ := loggedIn(t)
	d.perms["u1"] = append(d.perms["u1"], policy.ContactList)
	phonebookOf(d, 3)
	for query, field := range map[string]string{
		"limit=0":            "limit",
		"limit=501":          "limit",
		"limit=ten":          "limit",
		"page=0":             "page",
		"page=-2":            "page",
		"page=x":             "page",
		"cursor=at-1&page=2": "page",
		"cursor=nonsense":    "cursor",
		"q=" + strings.Repeat("x", storage.MaxContactSearchText+1): "q",
	} {
		got := admin.send("GET", APIPrefix+"/contacts?"+query, "", "")
		if e := errorBody(t, got); got.status != http.StatusBadRequest || !strings.HasPrefix(e.Error, field+" ") {
			t.Errorf("%s = %d %+v, want 400 naming %s", query, got.status, e, field)
		}
	}
}

// The export lists every contact, beyond one page of the store.
func TestContactsExportListsEveryContact(t *testing.T) {
	_, d, admin, _ := loggedIn(t)
	d.perms["u1"] = append(d.perms["u1"], policy.ContactList)
	ids := phonebookOf(d, 1203)
	got := admin.send("GET", APIPrefix+"/contacts/export.csv", "", "")
	recs, err := csv.NewReader(strings.NewReader(got.body)).ReadAll()
	if err != nil || got.status != http.StatusOK {
		t.Fatalf("export = %d, %v", got.status, err)
	}
	if len(recs) != len(ids)+1 || recs[1][0] != "Contact 0000" || recs[len(ids)][0] != "Contact 1202" {
		t.Fatalf("export = %d lines, first %q", len(recs), recs[1])
	}
}

// The contacts page shows one numbered page of the matches, how many
// match of how many there are, and links to the pages beside it; a number
// past the last page shows the last.
func TestContactsPageSearchesAndPages(t *testing.T) {
	_, d, admin, _ := loggedIn(t)
	d.perms["u1"] = append(d.perms["u1"], policy.ContactList)
	phonebookOf(d, 230)
	page := admin.page("/contacts?q=bolt&page=2")
	if page.status != http.StatusOK || !strings.Contains(page.body, "page 2 of 3") || !strings.Contains(page.body, `<span id="contacts-count">115 of 230</span>`) {
		t.Fatalf("page 2 = %d, count or page missing", page.status)
	}
	if !strings.Contains(page.body, "Contact 0101") || strings.Contains(page.body, "Contact 0099") || strings.Contains(page.body, "Contact 0100") ||
		!strings.Contains(page.body, `href="/contacts?q=bolt&amp;page=3"`) || !strings.Contains(page.body, `href="/contacts?q=bolt&amp;page=1"`) {
		t.Errorf("page 2 lists the wrong contacts or lacks its links")
	}
	if last := admin.page("/contacts?q=bolt&page=99"); !strings.Contains(last.body, "page 3 of 3") || !strings.Contains(last.body, "Contact 0229") {
		t.Errorf("a page past the end = %d, not the last page", last.status)
	}
}
