package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"

	"siteline/node"
)

const devUsage = `dev: want one of
  seed-history -sessions N [-seed S] [-data DIR]   fill DIR's store with generated session history`

// dev runs development tools: `siteline dev seed-history`.
func dev(args []string) error {
	if len(args) == 0 || args[0] != "seed-history" {
		return errors.New(devUsage)
	}
	fs := flag.NewFlagSet("dev seed-history", flag.ExitOnError)
	var c common
	c.register(fs)
	sessions := fs.Int("sessions", 10000, "how many sessions to generate")
	seed := fs.Uint64("seed", 1, "generator seed: the same seed gives the same history")
	fs.Parse(args[1:])
	cfg, err := c.load(nil)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return node.SeedHistory(ctx, cfg.DataDir, node.SeedConfig{Sessions: *sessions, Seed: *seed}, os.Stdout)
}
