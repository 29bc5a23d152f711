// Package historygen makes realistic session history: organisations with
// sites, users and labels, and calls with participants, chat, notes,
// outcomes and labels, spread over a period. The same seed gives the same
// data. Tests, benchmarks and `siteline dev seed-history` use it.
package historygen

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"siteline/storage"
)

// Config says how much to make. Zero fields take the defaults of Defaults.
type Config struct {
	Seed         uint64
	Sessions     int
	Orgs         int // the first holds about half the sessions, the rest share the others
	SitesPerOrg  int
	UsersPerOrg  int
	LabelsPerOrg int
	// End is when the most recent session starts; sessions start over the
	// Span before it.
	End  time.Time
	Span time.Duration
	// Batch is how many sessions go to the store in one call.
	Batch int
}

// Defaults is a medium-sized company over two years.
var Defaults = Config{
	Seed: 1, Sessions: 10000, Orgs: 3, SitesPerOrg: 6, UsersPerOrg: 250, LabelsPerOrg: 24,
	End: time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC), Span: 2 * 365 * 24 * time.Hour, Batch: 2000,
}

func (c Config) withDefaults() Config {
	d := Defaults
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&c.Orgs, d.Orgs)
	pick(&c.SitesPerOrg, d.SitesPerOrg)
	pick(&c.UsersPerOrg, d.UsersPerOrg)
	pick(&c.LabelsPerOrg, d.LabelsPerOrg)
	pick(&c.Batch, d.Batch)
	if c.Sessions < 0 {
		c.Sessions = 0
	}
	if c.End.IsZero() {
		c.End = d.End
	}
	if c.Span <= 0 {
		c.Span = d.Span
	}
	return c
}

// Org is what sessions are made of: an organisation's ids.
type Org struct {
	ID     string
	Sites  []string
	Users  []User
	Labels []string
}

// User is a user id with the name participants show.
type User struct{ ID, Name string }

// Orgs makes cfg.Orgs organisations and the command that creates them
// (orgs, sites, users, label groups and labels) in a store.
func Orgs(cfg Config) ([]Org, storage.Command) {
	cfg = cfg.withDefaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	at := cfg.End.Add(-cfg.Span - 24*time.Hour)
	cmd := storage.Command{At: at, ActorID: "historygen"}
	put := func(ch storage.Change) { cmd.Changes = append(cmd.Changes, ch) }
	var orgs []Org
	for i := range cfg.Orgs {
		o := Org{ID: fmt.Sprintf("org-%02d", i+1)}
		put(storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: o.ID, Name: companies[i%len(companies)], CreatedAt: at}})
		for j := range cfg.SitesPerOrg {
			id := fmt.Sprintf("%s-site-%02d", o.ID, j+1)
			o.Sites = append(o.Sites, id)
			put(storage.Change{Op: storage.OpPutSite, Site: &storage.Site{ID: id, OrgID: o.ID,
				Name: "Plant " + cities[(i*7+j)%len(cities)], CreatedAt: at}})
		}
		for j := range cfg.UsersPerOrg {
			u := User{ID: fmt.Sprintf("%s-user-%04d", o.ID, j+1),
				Name: firstNames[rng.IntN(len(firstNames))] + " " + lastNames[rng.IntN(len(lastNames))]}
			o.Users = append(o.Users, u)
			put(storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: u.ID, OrgID: o.ID,
				Email: fmt.Sprintf("user%04d@%s.test", j+1, o.ID), Name: u.Name, Kind: storage.UserRegular,
				Active: true, CreatedAt: at, UpdatedAt: at}})
		}
		groups := (cfg.LabelsPerOrg + 5) / 6
		for g := range groups {
			gid := fmt.Sprintf("%s-lg-%02d", o.ID, g+1)
			put(storage.Change{Op: storage.OpPutLabelGroup, LabelGroup: &storage.LabelGroup{ID: gid, OrgID: o.ID,
				Name: labelGroups[g%len(labelGroups)], Color: colors[g%len(colors)]}})
			for l := 0; l < 6 && g*6+l < cfg.LabelsPerOrg; l++ {
				id := fmt.Sprintf("%s-label-%02d", o.ID, g*6+l+1)
				o.Labels = append(o.Labels, id)
				put(storage.Change{Op: storage.OpPutLabel, Label: &storage.Label{ID: id, OrgID: o.ID, GroupID: gid,
					Name: labelNames[(g*6+l)%len(labelNames)]}})
			}
		}
		orgs = append(orgs, o)
	}
	return orgs, cmd
}

// Loader stores generated sessions.
type Loader interface {
	LoadSessions(ctx context.Context, bundles []storage.SessionBundle) error
}

// Fill makes cfg.Sessions sessions of orgs and loads them in batches; the
// sessions of the last hours before cfg.End may still be active. It
// returns how many it loaded.
func Fill(ctx context.Context, l Loader, orgs []Org, cfg Config) (int, error) {
	cfg = cfg.withDefaults()
	if len(orgs) == 0 {
		return 0, fmt.Errorf("generate history: no organisation to generate it for")
	}
	g := &gen{rng: rand.New(rand.NewPCG(cfg.Seed, 0x6e5)), cfg: cfg}
	batch := make([]storage.SessionBundle, 0, cfg.Batch)
	done := 0
	for i := range cfg.Sessions {
		batch = append(batch, g.session(orgs[g.orgIndex(len(orgs))], i))
		if len(batch) == cfg.Batch || i == cfg.Sessions-1 {
			if err := l.LoadSessions(ctx, batch); err != nil {
				return done, fmt.Errorf("generate history: %w", err)
			}
			done += len(batch)
			batch = batch[:0]
		}
	}
	return done, nil
}

type gen struct {
	rng *rand.Rand
	cfg Config
}

// orgIndex: the first organisation about half of the sessions.
func (g *gen) orgIndex(n int) int {
	if n == 1 || g.rng.IntN(2) == 0 {
		return 0
	}
	return 1 + g.rng.IntN(n-1)
}

func (g *gen) id() string {
	return fmt.Sprintf("%016x", g.rng.Uint64())
}

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *gen) session(o Org, i int) storage.SessionBundle {
	r := g.rng
	start := g.cfg.End.Add(-time.Duration(r.Int64N(int64(g.cfg.Span)))).Truncate(time.Second)
	// Durations: log-normal around 12 minutes, 1 minute to 4 hours.
	minutes := math.Min(240, math.Max(1, math.Exp(2.5+0.8*r.NormFloat64())))
	end := start.Add(time.Duration(minutes * float64(time.Minute))).Add(time.Duration(r.IntN(60)) * time.Second)
	users := o.Users
	owner := users[r.IntN(len(users))]
	machine := g.pick(machines)
	tag := fmt.Sprintf("%c-%d", 'A'+rune(r.IntN(8)), 100+r.IntN(900))
	problem := g.pick(problems)
	ss := storage.SessionSummary{
		Session: storage.Session{
			ID: g.id(), OrgID: o.ID, SiteID: o.Sites[r.IntN(len(o.Sites))], Kind: storage.SessionConference,
			Name:      machine + " " + tag + " " + problem,
			Goal:      g.pick(goals) + " " + strings.ToLower(machine) + " " + tag,
			Status:    storage.SessionEnded,
			CreatedBy: owner.ID, StartedAt: start, EndedAt: &end,
		},
		OwnerID: owner.ID,
		Labels:  []string{},
	}
	if r.IntN(10) == 0 {
		ss.Kind = storage.SessionServiceRequest
	}
	if r.IntN(20) == 0 {
		ss.Name = "" // some are never named
	}
	// The most recent few may still be running.
	if g.cfg.End.Sub(start) < 3*time.Hour && r.IntN(3) == 0 {
		ss.Status, ss.EndedAt = storage.SessionActive, nil
	}
	switch x := r.IntN(100); {
	case ss.EndedAt == nil:
	case x < 58:
		ss.Outcome = storage.OutcomeSolved
		solved := start.Add(time.Duration(float64(end.Sub(start)) * (0.4 + 0.6*r.Float64()))).Truncate(time.Second)
		ss.SolvedAt = &solved
	case x < 78:
		ss.Outcome = storage.OutcomeNotSolved
	case x < 88:
		ss.Outcome = storage.OutcomeFollowUp
	case x < 91:
		ss.Outcome = "spare_part_ordered" // an organisation's own outcome
	}
	if r.IntN(10) < 3 {
		ss.Notes = g.pick(notes) + " " + tag + "."
	}
	if len(o.Labels) > 0 {
		seen := map[string]bool{}
		for range r.IntN(4) {
			l := o.Labels[r.IntN(len(o.Labels))]
			if !seen[l] {
				seen[l] = true
				ss.Labels = append(ss.Labels, l)
			}
		}
	}

	b := storage.SessionBundle{Session: ss}
	people := []User{owner}
	for range 1 + r.IntN(3) {
		people = append(people, users[r.IntN(len(users))])
	}
	for k, u := range people {
		joined := start.Add(time.Duration(k) * time.Duration(r.IntN(90)) * time.Second)
		p := storage.SessionParticipant{ID: g.id(), SessionID: ss.ID, UserID: u.ID, DisplayName: u.Name,
			UserKind: storage.UserRegular, DeviceKind: g.pick(devices), JoinedAt: joined}
		if ss.EndedAt != nil {
			p.LeftAt = ss.EndedAt
		}
		b.Participants = append(b.Participants, p)
	}
	seq := int64(0)
	event := func(at time.Time, kind, actor string, payload map[string]string) {
		seq++
		data, _ := json.Marshal(payload)
		b.Events = append(b.Events, storage.SessionEvent{ID: g.id(), SessionID: ss.ID, Seq: seq, At: at,
			Kind: kind, ActorID: actor, Payload: data})
	}
	lines := r.IntN(7)
	for k := range lines {
		p := b.Participants[r.IntN(len(b.Participants))]
		at := start.Add(time.Duration(k+1) * time.Minute)
		event(at, storage.EventChat, p.UserID, map[string]string{"participant": p.ID, "name": p.DisplayName,
			"text": fmt.Sprintf(g.pick(chat), tag)})
	}
	if ss.EndedAt != nil {
		event(*ss.EndedAt, storage.EventEnded, owner.ID, map[string]string{"name": owner.Name})
	}
	return b
}
