package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"siteline/cluster/history"
	"siteline/cluster/raft"
	"siteline/node/backup"
	"siteline/storage"
	"siteline/storage/sqlite"
)

// RestoreOptions change how Restore treats the target directory.
type RestoreOptions struct {
	// Force replaces a data directory that is not empty; the old one is
	// kept beside it, renamed DIR.replaced-TIME.
	Force bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Restored is what Restore did.
type Restored struct {
	Manifest backup.Manifest
	// Replaced is where the directory that was replaced went ("" for none).
	Replaced string
	// Republished is how many history records the node publishes again
	// (those headquarters had not acknowledged when the backup was made).
	Republished int64
}

// Restore makes dataDir the data directory of the node archive holds, on
// this or another machine. It reads the whole archive and checks it before
// it writes anything: a foreign, newer, truncated or corrupt archive is
// refused with the reason, and so is a data directory that holds anything
// (unless opts.Force) or a node that runs there. The files are written to
// a directory beside dataDir and moved into place once complete:
//
//   - the SQLite copy, with the organisation data of the Raft snapshot
//     put into it, so store and Raft agree on one log index;
//   - a Raft directory holding only that snapshot (term, configuration):
//     the node starts as one that has just compacted its log;
//   - the history records headquarters had not acknowledged, marked to be
//     published again into the new JetStream stream, and the outbox's
//     sequence moved past any the lost machine used (RestartHistoryOutbox).
//
// The restored node has the archived node's id, site and keys; `siteline
// serve -data DIR` starts it.
func Restore(ctx context.Context, archive, dataDir string, opts RestoreOptions) (Restored, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f, err := os.Open(archive)
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	m, err := backup.Verify(f)
	if err != nil {
		return Restored{}, fmt.Errorf("restore %s: %w", archive, err)
	}
	target, err := filepath.Abs(dataDir)
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	nonEmpty, err := holdsFiles(target)
	if err != nil {
		return Restored{}, err
	}
	if running(target) {
		return Restored{}, fmt.Errorf("restore: a node is running on %s; stop it first", target)
	}
	if nonEmpty && !opts.Force {
		return Restored{}, fmt.Errorf("restore: %s is not empty; restore into an empty or new directory, or pass -force to replace it (the old one is kept beside it as %s.replaced-TIME)", target, filepath.Base(target))
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	staging, err := os.MkdirTemp(filepath.Dir(target), filepath.Base(target)+".restoring-")
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(staging)
		}
	}()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	raftState := filepath.Join(staging, ".raft-state")
	if _, err := backup.Read(f, func(name string, _ int64, r io.Reader) error {
		dst := raftState
		switch {
		case strings.HasPrefix(name, backup.DataPrefix):
			dst = filepath.Join(staging, filepath.FromSlash(strings.TrimPrefix(name, backup.DataPrefix)))
		case strings.HasPrefix(name, backup.MediaPrefix):
			dst = filepath.Join(staging, mediaDir, filepath.FromSlash(strings.TrimPrefix(name, backup.MediaPrefix)))
		}
		return writeFile(dst, r)
	}); err != nil {
		return Restored{}, fmt.Errorf("restore %s: %w", archive, err)
	}
	out := Restored{Manifest: m}
	if out.Republished, err = restoreStore(ctx, staging, m, raftState); err != nil {
		return Restored{}, err
	}
	if err := restoreRaft(staging, m, raftState); err != nil {
		return Restored{}, err
	}
	if err := os.Remove(raftState); err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	if out.Replaced, err = moveIntoPlace(staging, target, nonEmpty, opts.Now()); err != nil {
		return Restored{}, err
	}
	done = true
	return out, nil
}

// restoreStore puts the Raft snapshot's organisation data into the store
// copy and marks what headquarters had not acknowledged for publishing.
func restoreStore(ctx context.Context, dir string, m backup.Manifest, raftState string) (int64, error) {
	store, err := sqlite.Open(ctx, filepath.Join(dir, storeFile), nil)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer store.Close()
	if id, err := store.Meta(ctx, "node_id"); err != nil || id != m.NodeID {
		return 0, fmt.Errorf("restore: the archive's store is of node %q (%v), its manifest names %q", id, err, m.NodeID)
	}
	state, err := os.Open(raftState)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer state.Close()
	if err := store.Restore(ctx, state); err != nil {
		return 0, fmt.Errorf("restore: organisation data: %w", err)
	}
	var acked int64
	v, err := store.Meta(ctx, history.MetaAcked)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return 0, fmt.Errorf("restore: %w", err)
	default:
		if acked, err = strconv.ParseInt(v, 10, 64); err != nil {
			return 0, fmt.Errorf("restore: meta %s: %q is not a number", history.MetaAcked, v)
		}
	}
	n, err := store.RestartHistoryOutbox(ctx, acked)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	return n, store.Close()
}

// restoreRaft writes the Raft directory holding the archive's snapshot.
func restoreRaft(dir string, m backup.Manifest, raftState string) error {
	state, err := os.Open(raftState)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer state.Close()
	info := raft.SnapshotInfo{Index: m.Raft.Index, Term: m.Raft.Term, ConfigurationIndex: m.Raft.ConfigurationIndex}
	for _, s := range m.Raft.Servers {
		info.Servers = append(info.Servers, raft.SnapshotServer{ID: s.ID, Address: s.Address, Voter: s.Voter})
	}
	if err := raft.WriteState(filepath.Join(dir, "raft"), info, state); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// moveIntoPlace renames staging to target; a target that holds files
// moves aside first (the caller allowed it), an empty one goes.
func moveIntoPlace(staging, target string, nonEmpty bool, now time.Time) (string, error) {
	var replaced string
	switch {
	case nonEmpty:
		replaced = target + ".replaced-" + now.UTC().Format("20060102T150405Z")
		if err := os.Rename(target, replaced); err != nil {
			return "", fmt.Errorf("restore: keep the replaced data directory: %w", err)
		}
	default:
		if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(staging, target); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	return replaced, syncDir(filepath.Dir(target))
}

// holdsFiles tells whether dir exists and holds anything.
func holdsFiles(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("restore: %w", err)
	}
	return len(entries) > 0, nil
}

// running tells whether a node answers on dir's admin socket.
func running(dir string) bool {
	c, err := net.DialTimeout("unix", adminSocket(dir), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// writeFile writes r to a new file at path, synced, making its directory.
func writeFile(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
