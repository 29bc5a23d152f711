package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"siteline/storage"
)

// Words the generated phonebooks are made of: upper and lower case, a few
// letters beyond ASCII, characters LIKE and FTS5 treat specially.
var (
	contactFirst   = []string{"Anna", "anton", "BERND", "Chloé", "Dörte", "Emil", "Frida", "Gül", "hans", "Ines", "Jörg", "Karl_Heinz", "Lena", "Mia%", "Noah", "Ölaf"}
	contactLast    = []string{"Anderson", "Bauer", "Colombo", "DUPONT", "Eriksson", "Fischer", "García", "Hoffmann", "Ivanova", "Jansen", "keller", "Łukasz", "Müller", `O"Brien`, "Schmidt", "Weiß"}
	contactCompany = []string{"", "", "Acme Pumps", "Bolt GmbH", "ÖLWERK AG", "Kiln & Co", "Flange_Works", "100% Valves", "Hydraulik Süd"}
)

// genContacts makes n contacts of orgID, reproducibly from seed. Names
// repeat, so that ties on the name are ordered by id.
func genContacts(orgID string, n int, seed uint64) []storage.Contact {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]storage.Contact, n)
	for i := range out {
		first, last := contactFirst[r.IntN(len(contactFirst))], contactLast[r.IntN(len(contactLast))]
		c := storage.Contact{ID: fmt.Sprintf("%s-c%06d", orgID, r.IntN(1_000_000_000)), OrgID: orgID,
			Name: first + " " + last, Company: contactCompany[r.IntN(len(contactCompany))], CreatedAt: t0,
			Notes: "met at the fair " + last}
		if r.IntN(4) > 0 {
			c.Email = strings.ToLower(strings.ReplaceAll(first, "%", "")) + "." + fmt.Sprint(r.IntN(1000)) + "@" + strings.ToLower(strings.Fields(last)[0]) + ".example"
		}
		if r.IntN(3) > 0 {
			c.Phone = fmt.Sprintf("+%d %d %07d", 30+r.IntN(20), 10+r.IntN(90), r.IntN(10_000_000))
		}
		out[i] = c
	}
	return out
}

// putContacts applies contacts in commands of at most 5,000, as imports do.
func putContacts(t testing.TB, s *Store, index uint64, contacts []storage.Contact) uint64 {
	t.Helper()
	for len(contacts) > 0 {
		batch := contacts[:min(5000, len(contacts))]
		contacts = contacts[len(batch):]
		changes := make([]storage.Change, len(batch))
		for i := range batch {
			changes[i] = storage.Change{Op: storage.OpPutContact, Contact: &batch[i]}
		}
		index++
		if err := s.Apply(context.Background(), index, cmd(changes...)); err != nil {
			t.Fatalf("apply contacts: %v", err)
		}
	}
	return index
}

// contactStore is a store with the organisations o1 and o2 and n generated
// contacts in each.
func contactStore(t testing.TB, s *Store, n int) (map[string][]storage.Contact, uint64) {
	t.Helper()
	if err := s.Apply(context.Background(), 1, cmd(
		storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o1", Name: "Acme", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o2", Name: "Bolt", CreatedAt: t0}},
	)); err != nil {
		t.Fatal(err)
	}
	books := map[string][]storage.Contact{"o1": genContacts("o1", n, 1), "o2": genContacts("o2", n, 2)}
	index := putContacts(t, s, 1, books["o1"])
	return books, putContacts(t, s, index, books["o2"])
}

// asciiLower folds ASCII letters only, as SQLite's NOCASE and LIKE do.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// refSearch is the search computed directly: every contact of the book
// holding text in its name, company, e-mail or phone, ignoring case (of
// every letter for three characters or more, of ASCII letters for fewer),
// ordered by name ignoring ASCII case, then id.
func refSearch(book []storage.Contact, text string) []storage.Contact {
	text = strings.TrimSpace(text)
	fold := strings.ToLower
	if utf8.RuneCountInString(text) < 3 {
		fold = asciiLower
	}
	var out []storage.Contact
	for _, c := range book {
		for _, f := range []string{c.Name, c.Company, c.Email, c.Phone} {
			if strings.Contains(fold(f), fold(text)) {
				out = append(out, c)
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b storage.Contact) int {
		if c := strings.Compare(asciiLower(a.Name), asciiLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func contactIDs(cs []storage.Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

var contactTexts = []string{"", "a", "AN", "ann", "ANDERSON", "anna and", "ölwerk", "ÖLW", "chloé", "CHLOÉ", "gül", "weiss", "WEIß",
	"%", "_", "100%", "flange_", `o"b`, `"`, "@bauer", ".example", "+4", "+41 ", " 12", "kiln & co", "met at", "zzz", "é", "  emil  "}

// Every search of generated phonebooks lists exactly the contacts the
// direct computation finds, in its order, whatever the page size, walked
// by cursor and by offset, without duplicates or gaps, and never a
// contact of the other organisation.
func TestSearchContactsMatchesDirectComputation(t *testing.T) {
	s, _ := openTestStore(t)
	books, _ := contactStore(t, s, 700)
	ctx := context.Background()
	for i, text := range contactTexts {
		// Every other text reads its pages walking the index, the others
		// sorting the matches; the automatic choice is one of the two.
		plan := []contactPlan{walkPlan, sortPlan}[i%2]
		want := contactIDs(refSearch(books["o1"], text))
		for _, limit := range []int{1, 7, 50, 500} {
			if len(want) > 40*limit {
				continue // many small pages over hundreds of rows prove nothing more
			}
			var got []string
			q := storage.ContactQuery{OrgID: "o1", Text: text, Limit: limit}
			for pages := 0; ; pages++ {
				page, err := s.searchContacts(ctx, q, plan)
				if err != nil {
					t.Fatalf("search %q limit %d: %v", text, limit, err)
				}
				if page.Total != len(want) {
					t.Fatalf("search %q: total %d, want %d", text, page.Total, len(want))
				}
				if len(page.Contacts) > limit || (page.Next != "" && len(page.Contacts) != limit) {
					t.Fatalf("search %q limit %d: a page of %d, next %q", text, limit, len(page.Contacts), page.Next)
				}
				for _, c := range page.Contacts {
					if c.OrgID != "o1" {
						t.Fatalf("search %q: contact %s of %s", text, c.ID, c.OrgID)
					}
				}
				got = append(got, contactIDs(page.Contacts)...)
				if page.Next == "" {
					break
				}
				q.Cursor = page.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("search %q by cursor, limit %d: %d contacts %v…, want %d %v…", text, limit, len(got), head(got), len(want), head(want))
			}
			if limit != 50 {
				continue
			}
			got = nil
			for offset := 0; offset == 0 || offset < len(want); offset += limit {
				page, err := s.searchContacts(ctx, storage.ContactQuery{OrgID: "o1", Text: text, Limit: limit, Offset: offset}, plan)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, contactIDs(page.Contacts)...)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("search %q by offset, limit %d: %d contacts, want %d", text, limit, len(got), len(want))
			}
		}
	}
	if len(refSearch(books["o1"], "ann")) == 0 || len(refSearch(books["o1"], "ölwerk")) == 0 || len(refSearch(books["o1"], "a")) < 500 {
		t.Fatal("the generated phonebook lacks the contacts the texts are meant to find")
	}
}

// The index follows every write: an edited contact is found by its new
// text and not its old one, a deleted one not at all, and deleting an
// organisation drops its contacts from the search.
func TestSearchContactsFollowsWrites(t *testing.T) {
	s, _ := openTestStore(t)
	books, index := contactStore(t, s, 50)
	ctx := context.Background()
	find := func(org, text string) []string {
		t.Helper()
		page, err := s.SearchContacts(ctx, storage.ContactQuery{OrgID: org, Text: text, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		return contactIDs(page.Contacts)
	}
	c := books["o1"][0]
	c.Name, c.Company = "Xaver Quaderwerk", "Zylinder AG"
	index++
	mustApply(t, s, index, cmd(storage.Change{Op: storage.OpPutContact, Contact: &c}))
	if got := find("o1", "quaderw"); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("after the edit, quaderw finds %v", got)
	}
	if got := find("o1", "ylinder a"); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("after the edit, the company finds %v", got)
	}
	if got := find("o1", books["o1"][0].Name); slices.Contains(got, c.ID) {
		t.Errorf("the old name still finds the contact")
	}
	index++
	mustApply(t, s, index, cmd(storage.Change{Op: storage.OpDelContact, ID: c.ID}))
	if got := find("o1", "quaderw"); len(got) != 0 {
		t.Errorf("after the delete, quaderw finds %v", got)
	}
	if _, err := s.write.ExecContext(ctx, "DELETE FROM orgs WHERE id = 'o2'"); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.read.QueryRow(`SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH '"example"'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if want := len(refSearch(books["o1"][1:], "example")); left != want {
		t.Errorf("after o2's deletion the index holds %d contacts with example, want o1's %d", left, want)
	}
}

// Bad queries are validation errors naming the field.
func TestSearchContactsRefusesBadQueries(t *testing.T) {
	s, _ := openTestStore(t)
	contactStore(t, s, 20)
	ctx := context.Background()
	first, err := s.SearchContacts(ctx, storage.ContactQuery{OrgID: "o1", Text: "a", Limit: 2})
	if err != nil || first.Next == "" {
		t.Fatalf("first page = %v, next %q", err, first.Next)
	}
	for _, tc := range []struct {
		q     storage.ContactQuery
		field string
	}{
		{storage.ContactQuery{}, "org_id"},
		{storage.ContactQuery{OrgID: "o1", Limit: -1}, "limit"},
		{storage.ContactQuery{OrgID: "o1", Limit: storage.MaxContactPage + 1}, "limit"},
		{storage.ContactQuery{OrgID: "o1", Offset: -1}, "offset"},
		{storage.ContactQuery{OrgID: "o1", Text: strings.Repeat("x", storage.MaxContactSearchText+1)}, "text"},
		{storage.ContactQuery{OrgID: "o1", Cursor: "nonsense"}, "cursor"},
		{storage.ContactQuery{OrgID: "o1", Cursor: first.Next + "x"}, "cursor"},
		{storage.ContactQuery{OrgID: "o1", Text: "b", Cursor: first.Next}, "cursor"},
		{storage.ContactQuery{OrgID: "o2", Text: "a", Cursor: first.Next}, "cursor"},
		{storage.ContactQuery{OrgID: "o1", Text: "a", Cursor: first.Next, Offset: 2}, "cursor"},
	} {
		_, err := s.SearchContacts(ctx, tc.q)
		var ve *storage.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%+v: %v, want a validation error of %s", tc.q, err, tc.field)
		}
	}
}
