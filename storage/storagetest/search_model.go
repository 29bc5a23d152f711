package storagetest

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"siteline/storage"
	"siteline/storage/historygen"
)

// The reference model SessionSearch compares both stores with: the
// generated history kept in memory and searched by plain Go.

// SearchTerms splits text into the words the search sees (FTS5's
// unicode61 tokenizer's split), lower-cased; the reference model's
// words.
func SearchTerms(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// refSession is a session as the reference model sees it: as generated,
// without the store's indexes or sort keys.
type refSession struct {
	storage.SessionSummary
	participants []string // user ids
	words        []string // every word of name, goal, notes, participants' names, chat
}

// generated is the history historygen makes of cfg: its organisations,
// and its sessions as the reference model sees them. The same
// configuration makes the same history, so this is what Generate stored.
func generated(t *testing.T, cfg historygen.Config) ([]historygen.Org, []refSession) {
	t.Helper()
	orgs, _ := historygen.Orgs(cfg)
	var mem memLoader
	if _, err := historygen.Fill(context.Background(), &mem, orgs, cfg); err != nil {
		t.Fatal(err)
	}
	all := make([]refSession, 0, len(mem.got))
	for _, b := range mem.got {
		x := refSession{SessionSummary: b.Session}
		x.Labels = slices.Clone(x.Labels)
		slices.Sort(x.Labels)
		x.words = SearchTerms(x.Name + " " + x.Goal + " " + x.Notes)
		for _, p := range b.Participants {
			x.participants = append(x.participants, p.UserID)
			x.words = append(x.words, SearchTerms(p.DisplayName)...)
		}
		for _, ev := range b.Events {
			if ev.Kind != storage.EventChat {
				continue
			}
			var chat struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal(ev.Payload, &chat); err != nil {
				t.Fatal(err)
			}
			x.words = append(x.words, SearchTerms(chat.Text)...)
		}
		all = append(all, x)
	}
	return orgs, all
}

type memLoader struct{ got []storage.SessionBundle }

func (m *memLoader) LoadSessions(_ context.Context, b []storage.SessionBundle) error {
	m.got = append(m.got, b...)
	return nil
}

// refKey is the sort key as defined in package storage.
func refKey(x refSession, sort storage.SessionSort) (int64, string) {
	dur := func(d time.Duration, ok bool) int64 {
		if !ok {
			return math.MaxInt64
		}
		return int64(d)
	}
	switch sort {
	case storage.SortEnd:
		if x.EndedAt == nil {
			return math.MaxInt64, ""
		}
		return x.EndedAt.UnixNano(), ""
	case storage.SortDuration:
		return dur(x.Duration()), ""
	case storage.SortTimeToSolve:
		return dur(x.TimeToSolve()), ""
	case storage.SortName:
		return 0, strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, x.Name)
	case storage.SortSite:
		return 0, x.SiteID
	case storage.SortOwner:
		return 0, x.OwnerID
	case storage.SortOutcome:
		return 0, x.Outcome
	}
	return x.StartedAt.UnixNano(), ""
}

// reference answers q from the model: the ids in order.
func reference(all []refSession, q storage.SessionQuery) []string {
	var out []refSession
	has := func(list []string, v string) bool { return slices.Contains(list, v) }
	for _, x := range all {
		switch {
		case x.OrgID != q.OrgID,
			!q.From.IsZero() && x.StartedAt.Before(q.From),
			!q.To.IsZero() && !x.StartedAt.Before(q.To),
			q.OwnerID != "" && x.OwnerID != q.OwnerID,
			q.ParticipantID != "" && !has(x.participants, q.ParticipantID),
			q.OwnOnly && x.OwnerID != q.ViewerID && !has(x.participants, q.ViewerID),
			len(q.LabelIDs) > 0 && !slices.ContainsFunc(q.LabelIDs, func(l string) bool { return has(x.Labels, l) }),
			len(q.SiteIDs) > 0 && !has(q.SiteIDs, x.SiteID),
			q.Status != "" && x.Status != q.Status,
			q.Outcome != "" && x.Outcome != q.Outcome:
			continue
		}
		match := true
		for _, term := range SearchTerms(q.Text) {
			if !slices.ContainsFunc(x.words, func(w string) bool {
				return w == term || len(term) > 1 && strings.HasPrefix(w, term)
			}) {
				match = false
			}
		}
		if match {
			out = append(out, x)
		}
	}
	sort := q.Sort
	if sort == "" {
		sort = storage.SortStart
	}
	slices.SortFunc(out, func(a, b refSession) int {
		an, as := refKey(a, sort)
		bn, bs := refKey(b, sort)
		c := cmpInt(an, bn)
		if c == 0 {
			c = strings.Compare(as, bs)
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if q.Desc {
			return -c
		}
		return c
	})
	ids := make([]string, len(out))
	for i, x := range out {
		ids[i] = x.ID
	}
	return ids
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pageAll pages through q with its cursor and returns every row.
func pageAll(t *testing.T, s SearchBackend, q storage.SessionQuery) []storage.SessionSummary {
	t.Helper()
	var out []storage.SessionSummary
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("%+v: paging does not end", q)
		}
		page, err := s.SearchSessions(context.Background(), q)
		if err != nil {
			t.Fatalf("SearchSessions(%+v): %v", q, err)
		}
		if len(page.Sessions) > max(q.Limit, 1) || (page.Next != "" && len(page.Sessions) != q.Limit) {
			t.Fatalf("%+v: page of %d rows, next %q", q, len(page.Sessions), page.Next)
		}
		out = append(out, page.Sessions...)
		if page.Next == "" {
			return out
		}
		q.Cursor = page.Next
	}
}

func randomQuery(r *rand.Rand, orgs []historygen.Org, all []refSession, cfg historygen.Config) storage.SessionQuery {
	o := orgs[r.IntN(len(orgs))]
	q := storage.SessionQuery{OrgID: o.ID, Limit: 10 + r.IntN(90),
		Sort: storage.SessionSorts[r.IntN(len(storage.SessionSorts))], Desc: r.IntN(2) == 0}
	user := func() string { return o.Users[r.IntN(len(o.Users))].ID }
	// Filters are each present about a third of the time.
	if r.IntN(3) == 0 {
		q.From = cfg.End.Add(-time.Duration(r.Int64N(int64(cfg.Span))))
		if r.IntN(2) == 0 {
			q.To = q.From.Add(time.Duration(r.Int64N(int64(cfg.Span / 3))))
		}
	} else if r.IntN(4) == 0 {
		q.To = cfg.End.Add(-time.Duration(r.Int64N(int64(cfg.Span))))
	}
	if r.IntN(6) == 0 {
		q.OwnerID = user()
	}
	if r.IntN(6) == 0 {
		q.ParticipantID = user()
	}
	if r.IntN(4) == 0 {
		q.OwnOnly, q.ViewerID = true, user()
	}
	if r.IntN(3) == 0 {
		for range 1 + r.IntN(2) {
			q.LabelIDs = append(q.LabelIDs, o.Labels[r.IntN(len(o.Labels))])
		}
	}
	if r.IntN(3) == 0 {
		for range 1 + r.IntN(2) {
			q.SiteIDs = append(q.SiteIDs, o.Sites[r.IntN(len(o.Sites))])
		}
	}
	if r.IntN(4) == 0 {
		q.Status = []string{storage.SessionEnded, storage.SessionActive}[r.IntN(2)]
	}
	if r.IntN(4) == 0 {
		q.Outcome = []string{"", storage.OutcomeSolved, storage.OutcomeNotSolved, storage.OutcomeFollowUp, "spare_part_ordered"}[r.IntN(5)]
	}
	if r.IntN(3) == 0 {
		// Words of some session, whole or a prefix, one or two of them.
		x := all[r.IntN(len(all))]
		var words []string
		for range 1 + r.IntN(2) {
			w := x.words[r.IntN(len(x.words))]
			if len(w) > 2 && r.IntN(2) == 0 {
				w = w[:1+r.IntN(len(w)-1)]
			}
			words = append(words, w)
		}
		q.Text = strings.Join(words, " ")
		if r.IntN(4) == 0 {
			q.Text = strings.ToUpper(q.Text) + "!"
		}
	}
	return q
}

// TestHistory is the generated history MatchesReference searches.
var TestHistory = historygen.Config{Seed: 7, Sessions: 3000, Orgs: 3, SitesPerOrg: 4, UsersPerOrg: 30, LabelsPerOrg: 10, Batch: 500,
	End: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), Span: 90 * 24 * time.Hour}
