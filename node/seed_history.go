package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"siteline/storage"
	"siteline/storage/historygen"
	"siteline/storage/sqlite"
)

// SeedConfig is what `siteline dev seed-history` asks for.
type SeedConfig struct {
	Sessions int
	Seed     uint64
}

// SeedHistory fills the store of a data directory with generated session
// history, for trying the history pages and measuring them. A store that
// already has organisations gets sessions for its own sites, users and
// labels. An empty one first gets generated organisations, written
// straight into the store and not through the replicated log: such a
// directory is for development only, never for a real site. Loaded
// sessions are not forwarded to headquarters.
func SeedHistory(ctx context.Context, dataDir string, cfg SeedConfig, out io.Writer) error {
	if cfg.Sessions <= 0 {
		return fmt.Errorf("seed history: -sessions must be positive, not %d", cfg.Sessions)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("seed history: %w", err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dataDir, "siteline.db"), nil)
	if err != nil {
		return fmt.Errorf("seed history: %w", err)
	}
	defer store.Close()

	gcfg := historygen.Defaults
	gcfg.Sessions = cfg.Sessions
	if cfg.Seed != 0 {
		gcfg.Seed = cfg.Seed
	}
	orgs, err := existingOrgs(ctx, store)
	if err != nil {
		return fmt.Errorf("seed history: %w", err)
	}
	if len(orgs) == 0 {
		index, err := store.AppliedIndex(ctx)
		if err != nil {
			return fmt.Errorf("seed history: %w", err)
		}
		var cmd storage.Command
		orgs, cmd = historygen.Orgs(gcfg)
		if err := store.Apply(ctx, index+1, cmd); err != nil {
			return fmt.Errorf("seed history: create organisations: %w", err)
		}
		fmt.Fprintf(out, "created %d generated organisations (development data: not for a real site)\n", len(orgs))
	}
	start := time.Now()
	load, err := store.BulkLoad(ctx)
	if err != nil {
		return fmt.Errorf("seed history: %w", err)
	}
	n, err := historygen.Fill(ctx, progress{load, out, cfg.Sessions, new(int), start}, orgs, gcfg)
	if err != nil {
		load.Abort(ctx)
		return fmt.Errorf("seed history: %w", err)
	}
	if err := load.Finish(ctx); err != nil {
		return fmt.Errorf("seed history: %w", err)
	}
	fmt.Fprintf(out, "loaded %d sessions into %s in %v\n", n, dataDir, time.Since(start).Round(time.Second))
	return nil
}

// existingOrgs reads the organisations of a store, with what sessions
// need of them; those without a site or a user are left out.
func existingOrgs(ctx context.Context, store *sqlite.Store) ([]historygen.Org, error) {
	all, err := store.Orgs(ctx)
	if err != nil {
		return nil, err
	}
	var out []historygen.Org
	for _, o := range all {
		g := historygen.Org{ID: o.ID}
		sites, err := store.Sites(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		for _, s := range sites {
			g.Sites = append(g.Sites, s.ID)
		}
		users, err := store.Users(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			g.Users = append(g.Users, historygen.User{ID: u.ID, Name: u.Name})
		}
		labels, err := store.Labels(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		for _, l := range labels {
			g.Labels = append(g.Labels, l.ID)
		}
		if len(g.Sites) > 0 && len(g.Users) > 0 {
			out = append(out, g)
		}
	}
	return out, nil
}

// progress loads batches and says how far it got every 10%.
type progress struct {
	store historygen.Loader
	out   io.Writer
	total int
	done  *int
	start time.Time
}

func (p progress) LoadSessions(ctx context.Context, b []storage.SessionBundle) error {
	if err := p.store.LoadSessions(ctx, b); err != nil {
		return err
	}
	before := *p.done * 10 / p.total
	*p.done += len(b)
	if after := *p.done * 10 / p.total; after != before {
		fmt.Fprintf(p.out, "%d of %d sessions (%v)\n", *p.done, p.total, time.Since(p.start).Round(time.Second))
	}
	return nil
}
