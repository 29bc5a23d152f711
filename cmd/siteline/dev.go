package main

import (
	"context"
	"flag"
	"os"
	"os/signal"

	"siteline/node"
)

// devCmd runs development tools: `siteline dev seed-history`.
func devCmd(fs *flag.FlagSet) runner {
	var c common
	c.register(fs)
	sessions := fs.Int("sessions", 10000, "seed-history: how many sessions to generate")
	seed := fs.Uint64("seed", 1, "seed-history: generator seed; the same seed gives the same history")
	return func(_ string, pos []string) error {
		if err := noArgs(pos); err != nil {
			return err
		}
		cfg, err := c.load(nil)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return node.SeedHistory(ctx, cfg.DataDir, node.SeedConfig{Sessions: *sessions, Seed: *seed}, os.Stdout)
	}
}
