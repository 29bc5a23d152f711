package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"siteline/node"
	"siteline/node/backup"
)

// backupCmd runs `siteline backup -o FILE`: the running node of the data
// directory writes an archive of itself (node/backup.go) through its
// backup socket; a stopped one is opened offline for the purpose.
func backupCmd(fs *flag.FlagSet) runner {
	var c common
	c.register(fs)
	out := fs.String("o", "", "write the archive to `FILE` (required)")
	media := fs.Bool("media", false, "include the media blobs (snapshots, files, recordings)")
	return func(_ string, pos []string) error {
		if err := noArgs(pos); err != nil {
			return err
		}
		if *out == "" {
			return usageError("backup needs -o FILE")
		}
		cfg, err := c.load(nil)
		if err != nil {
			return err
		}
		if err := c.mustExist(cfg); err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		start := time.Now()
		m, size, err := writeBackup(ctx, cfg, *out, *media)
		if err != nil {
			return err
		}
		fmt.Printf("Backup of node %s (site %s) written to %s: %d files, %s, in %s.\n",
			m.NodeID, m.Site, *out, len(m.Files), bytesText(size), time.Since(start).Round(time.Millisecond))
		if m.HistoryDatabase != "" {
			fmt.Printf("The history on %s (storage.history) is not in the archive: back it up with %s's own tools "+
				"(pg_dump -Fc, or pg_basebackup with WAL archiving for a point in time).\n", m.HistoryDatabase, m.HistoryDatabase)
		}
		return nil
	}
}

// writeBackup writes the archive to a temporary file beside path, checking
// it as it arrives, and renames it to path once it is complete and sound:
// a failed backup leaves no file that looks like one.
func writeBackup(ctx context.Context, cfg node.Config, path string, media bool) (backup.Manifest, int64, error) {
	if _, err := os.Stat(path); err == nil {
		return backup.Manifest{}, 0, fmt.Errorf("%s exists; name a new file", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-")
	if err != nil {
		return backup.Manifest{}, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()

	pr, pw := io.Pipe()
	checked := make(chan error, 1)
	var m backup.Manifest
	go func() {
		var err error
		m, err = backup.Verify(io.TeeReader(pr, f))
		if err == nil {
			_, err = io.Copy(f, pr) // tar's end blocks
		}
		pr.CloseWithError(err)
		checked <- err
	}()
	werr := streamBackup(ctx, cfg, pw, media)
	pw.CloseWithError(werr)
	verr := <-checked
	switch {
	case verr != nil && (werr == nil || errors.Is(werr, verr)):
		return backup.Manifest{}, 0, fmt.Errorf("the archive the node wrote does not check: %w", verr)
	case werr != nil:
		return backup.Manifest{}, 0, werr
	case verr != nil:
		return backup.Manifest{}, 0, fmt.Errorf("the archive the node wrote does not check: %w", verr)
	}
	if err := f.Sync(); err != nil {
		return backup.Manifest{}, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		return backup.Manifest{}, 0, err
	}
	if err := f.Close(); err != nil {
		return backup.Manifest{}, 0, err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return backup.Manifest{}, 0, err
	}
	return m, info.Size(), nil
}

// streamBackup has the node of cfg's data directory write its archive to
// w: the running node through its backup socket, else the directory
// opened by a node started offline.
func streamBackup(ctx context.Context, cfg node.Config, w io.Writer, media bool) error {
	sock := node.BackupSocketPath(cfg.DataDir)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	u := "http://siteline/backup"
	if media {
		u += "?media=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if isNoNode(err) {
		return backupOffline(ctx, cfg, w, media)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("backup: the node answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if msg := resp.Trailer.Get(node.BackupErrorTrailer); msg != "" {
		return fmt.Errorf("backup: the node stopped: %s", msg)
	}
	return nil
}

// backupOffline backs up a data directory no node runs on.
func backupOffline(ctx context.Context, cfg node.Config, w io.Writer, media bool) error {
	cfg.Log.Level = "error"
	n, err := node.New(cfg, node.Options{Offline: true})
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	_, berr := n.Backup(ctx, w, node.BackupOptions{Media: media})
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(berr, n.Shutdown(stopCtx))
}

// restoreCmd runs `siteline restore FILE`.
func restoreCmd(fs *flag.FlagSet) runner {
	var c common
	c.register(fs)
	force := fs.Bool("force", false, "replace a data directory that is not empty (the old one is kept beside it, renamed)")
	return func(_ string, pos []string) error {
		if len(pos) != 1 {
			return usageError("restore needs one archive FILE")
		}
		cfg, err := c.load(nil)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		start := time.Now()
		r, err := node.Restore(ctx, pos[0], cfg.DataDir, node.RestoreOptions{Force: *force})
		if err != nil {
			return err
		}
		m := r.Manifest
		fmt.Printf("Restored node %s (site %s) from the backup of %s into %s: %d files, %s, in %s.\n",
			m.NodeID, m.Site, m.Created.Format(time.RFC3339), cfg.DataDir, len(m.Files), bytesText(m.Size()), time.Since(start).Round(time.Millisecond))
		if r.Replaced != "" {
			fmt.Printf("The directory it replaced is kept as %s.\n", r.Replaced)
		}
		if r.Republished > 0 {
			fmt.Printf("History records headquarters had not acknowledged are published again when the node starts: %d.\n", r.Republished)
		}
		if !m.Media {
			fmt.Println("The archive holds no media: media recorded before the backup is missing unless headquarters or another site holds it.")
		}
		fmt.Printf("Start it with: siteline serve -data %s\n", cfg.DataDir)
		return nil
	}
}

// bytesText writes n bytes for people.
func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
