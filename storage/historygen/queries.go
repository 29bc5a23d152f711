package historygen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"siteline/storage"
)

// SearchShape is one kind of history search, as people run it on the
// history page: Query makes one with its parameters (a user, a month, a
// label, a word) drawn anew each time.
type SearchShape struct {
	Name  string
	Query func() storage.SessionQuery
}

// SearchShapes are the searches the benchmarks time on generated history
// (storage/sqlite's BenchmarkSessionSearch, and both stores side by side
// in storage/pgmigrate): organisation o's sessions by range, label, site
// and status, words common and rare, the viewer's own, a participant's,
// and each sort. r draws the parameters.
func SearchShapes(cfg Config, o Org, r *rand.Rand) []SearchShape {
	user := func() string { return o.Users[r.IntN(len(o.Users))].ID }
	month := func() (time.Time, time.Time) {
		from := cfg.End.Add(-time.Duration(r.Int64N(int64(cfg.Span - 30*24*time.Hour))))
		return from.Add(-30 * 24 * time.Hour), from
	}
	return []SearchShape{
		{"org+month+start", func() storage.SessionQuery {
			from, to := month()
			return storage.SessionQuery{OrgID: o.ID, From: from, To: to, Sort: storage.SortStart, Desc: true}
		}},
		{"org+start", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Sort: storage.SortStart, Desc: true}
		}},
		{"org+label", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, LabelIDs: []string{o.Labels[r.IntN(len(o.Labels))]}, Sort: storage.SortStart, Desc: true}
		}},
		{"org+site+status", func() storage.SessionQuery {
			st := storage.SessionEnded
			if r.IntN(4) == 0 {
				st = storage.SessionActive
			}
			return storage.SessionQuery{OrgID: o.ID, SiteIDs: []string{o.Sites[r.IntN(len(o.Sites))]}, Status: st, Sort: storage.SortStart, Desc: true}
		}},
		{"org+text", func() storage.SessionQuery {
			words := []string{"compressor", "leak", "flange", "calibrate", "novak", "bearing", "overheating", "kiln"}
			return storage.SessionQuery{OrgID: o.ID, Text: words[r.IntN(len(words))], Sort: storage.SortStart, Desc: true}
		}},
		{"org+rare-text", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Text: fmt.Sprintf("%c %d", 'a'+rune(r.IntN(8)), 100+r.IntN(900)), Sort: storage.SortStart, Desc: true}
		}},
		{"org+own", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, OwnOnly: true, ViewerID: user(), Sort: storage.SortStart, Desc: true}
		}},
		{"org+participant+month", func() storage.SessionQuery {
			from, to := month()
			return storage.SessionQuery{OrgID: o.ID, ParticipantID: user(), From: from, To: to, Sort: storage.SortStart, Desc: true}
		}},
		{"org+sort-time-to-solve", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Sort: storage.SortTimeToSolve, Desc: r.IntN(2) == 0}
		}},
		{"org+sort-name", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Sort: storage.SortName, Desc: r.IntN(2) == 0}
		}},
		{"org+month+sort-duration", func() storage.SessionQuery {
			from, to := month()
			return storage.SessionQuery{OrgID: o.ID, From: from, To: to, Sort: storage.SortDuration, Desc: true}
		}},
		{"org+outcome+sort-end", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Outcome: storage.OutcomeFollowUp, Sort: storage.SortEnd, Desc: true}
		}},
		{"org+sort-duration", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Sort: storage.SortDuration, Desc: r.IntN(2) == 0}
		}},
		{"org+sort-other", func() storage.SessionQuery {
			sorts := []storage.SessionSort{storage.SortEnd, storage.SortSite, storage.SortOwner, storage.SortOutcome}
			return storage.SessionQuery{OrgID: o.ID, Sort: sorts[r.IntN(len(sorts))], Desc: r.IntN(2) == 0}
		}},
		{"org+own+text", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, OwnOnly: true, ViewerID: user(), Text: "pump", Sort: storage.SortStart, Desc: true}
		}},
		{"org+label+site+month", func() storage.SessionQuery {
			from, to := month()
			return storage.SessionQuery{OrgID: o.ID, LabelIDs: []string{o.Labels[r.IntN(len(o.Labels))]},
				SiteIDs: []string{o.Sites[r.IntN(len(o.Sites))]}, From: from, To: to, Sort: storage.SortStart, Desc: true}
		}},
	}
}
