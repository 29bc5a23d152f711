package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"siteline/node"
)

// storageCmd runs `siteline storage migrate -to postgres -dsn DSN`: the
// stopped node of the data directory copies its site history into a
// PostgreSQL database (-dsn, else the configured storage.history.dsn) and
// compares both (node.MigrateHistory). Progress goes to stderr, the
// comparison to stdout; a difference is exit status 1.
func storageCmd(fs *flag.FlagSet) runner {
	var c common
	c.register(fs)
	to := fs.String("to", "", "migrate: the `BACKEND` to copy the history to (postgres)")
	dsn := fs.String("dsn", "", "migrate: the PostgreSQL database `DSN`, postgres://USER@HOST:PORT/DB or key=value pairs "+
		"(default: storage.history.dsn); leave the password out to have it read from $PGPASSWORD or ~/.pgpass")
	return func(_ string, pos []string) error {
		if err := noArgs(pos); err != nil {
			return err
		}
		switch {
		case *to == "":
			return usageError("storage migrate needs -to postgres")
		case *to != "postgres":
			return usageError(fmt.Sprintf("storage migrate -to %q: the history can be migrated to postgres only", *to))
		}
		cfg, err := c.load(nil)
		if err != nil {
			return err
		}
		target := *dsn
		if target == "" {
			target = string(cfg.Storage.History.DSN)
		}
		if target == "" {
			return usageError("storage migrate needs -dsn DSN, or the database of storage.history.dsn ($SITELINE_STORAGE_HISTORY_DSN)")
		}
		if err := c.mustExist(cfg); err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		rep, err := node.MigrateHistory(ctx, cfg.DataDir, target, os.Stderr)
		if rep.Took > 0 { // compared: show the table, equal or not
			if werr := rep.WriteTable(os.Stdout); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return errors.New("interrupted: run the same command again to resume the copy")
			}
			return err
		}
		return nil
	}
}
