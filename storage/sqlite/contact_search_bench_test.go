package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

// BenchmarkContactSearch measures the phonebook's search in a SQLite file
// holding 100,000 contacts in the organisation searched (and 10,000 in
// another):
//
//	go test ./storage/sqlite -run '^$' -bench BenchmarkContactSearch -benchtime 300x
//
// SITELINE_BENCH_CONTACTS=n changes the 100,000; SITELINE_BENCH_PLANS=1
// logs each shape's query plan. Each shape reports the median and 95th
// percentile of one page of 50 contacts with its total, with varying
// parameters.
func BenchmarkContactSearch(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("SITELINE_BENCH_CONTACTS")); err == nil && v > 0 {
		n = v
	}
	s, err := Open(context.Background(), b.TempDir()+"/siteline.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if err := s.Apply(context.Background(), 1, cmd(
		storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o1", Name: "Acme", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o2", Name: "Bolt", CreatedAt: t0}},
	)); err != nil {
		b.Fatal(err)
	}
	book := genContacts("o1", n, 1)
	putContacts(b, s, putContacts(b, s, 1, genContacts("o2", n/10, 2)), book)
	b.Logf("stored %d contacts in %v", n+n/10, time.Since(start).Round(time.Millisecond))

	r := rand.New(rand.NewPCG(5, 5))
	pick := func() storage.Contact { return book[r.IntN(len(book))] }
	cursorAt := func(text string) string {
		// The cursor after a random contact of the organisation.
		c := pick()
		return encodeContactCursor(contactCursor{F: contactFingerprint(storage.ContactQuery{OrgID: "o1", Text: text}), Name: c.Name, ID: c.ID})
	}
	shapes := []struct {
		name string
		q    func() storage.ContactQuery
	}{
		{"all-first-page", func() storage.ContactQuery { return storage.ContactQuery{OrgID: "o1"} }},
		{"all-after-cursor", func() storage.ContactQuery { return storage.ContactQuery{OrgID: "o1", Cursor: cursorAt("")} }},
		{"all-page-number", func() storage.ContactQuery { return storage.ContactQuery{OrgID: "o1", Offset: 50 * r.IntN(n/50)} }},
		{"name-word", func() storage.ContactQuery {
			w := contactLast[r.IntN(len(contactLast))]
			return storage.ContactQuery{OrgID: "o1", Text: strings.ToLower(w[:min(len(w), 3+r.IntN(4))])}
		}},
		{"name-word-page-number", func() storage.ContactQuery {
			w := contactFirst[r.IntN(len(contactFirst))]
			return storage.ContactQuery{OrgID: "o1", Text: w[:3], Offset: 50 * r.IntN(40)}
		}},
		{"full-name", func() storage.ContactQuery {
			return storage.ContactQuery{OrgID: "o1", Text: strings.ToUpper(pick().Name)}
		}},
		{"e-mail", func() storage.ContactQuery {
			c := pick()
			for c.Email == "" {
				c = pick()
			}
			return storage.ContactQuery{OrgID: "o1", Text: c.Email}
		}},
		{"phone-digits", func() storage.ContactQuery {
			return storage.ContactQuery{OrgID: "o1", Text: fmt.Sprintf("%05d", r.IntN(100_000))}
		}},
		{"company", func() storage.ContactQuery { return storage.ContactQuery{OrgID: "o1", Text: "acme pu"} }},
		{"no-match", func() storage.ContactQuery {
			return storage.ContactQuery{OrgID: "o1", Text: fmt.Sprintf("zq%dx", r.IntN(1000))}
		}},
		{"two-letters", func() storage.ContactQuery {
			return storage.ContactQuery{OrgID: "o1", Text: string(rune('a'+r.IntN(26))) + string(rune('a'+r.IntN(26)))}
		}},
	}
	ctx := context.Background()
	for _, shape := range shapes {
		b.Run(shape.name, func(b *testing.B) {
			if os.Getenv("SITELINE_BENCH_PLANS") != "" {
				b.Logf("plan:\n%s", explainContacts(b, s, shape.q()))
			}
			var took []time.Duration
			b.ResetTimer()
			for b.Loop() {
				q := shape.q()
				start := time.Now()
				if _, err := s.SearchContacts(ctx, q); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			reportPercentiles(b, took)
		})
	}
}

// explainContacts is the query plan of the count and of the page of q.
func explainContacts(b *testing.B, s *Store, q storage.ContactQuery) string {
	p, err := planContactSearch(q)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.lookUp(context.Background(), s.read, autoPlan); err != nil {
		b.Fatal(err)
	}
	count, cargs := p.countSQL()
	var total int
	if err := s.read.QueryRow(count, cargs...).Scan(&total); err != nil {
		b.Fatal(err)
	}
	page, args := p.pageSQL(p.walks(total, autoPlan))
	var out strings.Builder
	fmt.Fprintf(&out, "  %d matches\n", total)
	for _, st := range []struct {
		query string
		args  []any
	}{{count, cargs}, {page, args}} {
		rows, err := s.read.Query(`EXPLAIN QUERY PLAN `+st.query, st.args...)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&out, "  %s\n", detail)
		}
		rows.Close()
		out.WriteString("  --\n")
	}
	return out.String()
}
