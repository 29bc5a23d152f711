package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"siteline/node/backup"
)

// A backup is made by the running node itself, so that it is consistent
// while calls and writes go on (docs: README's "Backup and restore"):
//
//   - the SQLite store, organisation data and site history together, is
//     copied with VACUUM INTO in one read transaction, which the writer
//     does not wait for;
//   - then Raft snapshots the organisation store (or hands its newest
//     snapshot when nothing was applied since), which therefore stands for
//     at least every entry the copy holds; a restore puts the snapshot's
//     organisation data into the copy, so both agree on one log index;
//   - the other files of the data directory follow (configuration, TLS
//     and federation keys, TURN secret, outbox key), and the media blobs
//     when asked for, read through the blob store;
//   - JetStream's files are not taken: the SQLite outbox is the source of
//     every history message, and a restore makes the node publish again
//     what headquarters had not acknowledged (see sqlite.RestartHistoryOutbox).
//
// Left out, by name at the top of the data directory:
var backupSkips = map[string]bool{
	storeFile: true, storeFile + "-wal": true, storeFile + "-shm": true, storeFile + "-journal": true,
	"raft": true, "nats": true, mediaDir: true, "recording": true,
	"admin.sock": true, backupSocketFile: true,
}

// backupTempPrefix starts the name of the directory a backup stages its
// copies in, inside the data directory (the same disk as the store).
const backupTempPrefix = ".backup-"

// BackupOptions change what a backup holds.
type BackupOptions struct {
	// Media adds the media blobs (snapshots, files, recordings).
	Media bool
}

// Backup writes an archive of the node to w (node/backup's format) and
// returns its manifest. Calls, writes and forwarding go on meanwhile.
func (n *Node) Backup(ctx context.Context, w io.Writer, opts BackupOptions) (backup.Manifest, error) {
	tmp, err := os.MkdirTemp(n.cfg.DataDir, backupTempPrefix)
	if err != nil {
		return backup.Manifest{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	db := filepath.Join(tmp, storeFile)
	start := time.Now()
	if err := n.store.BackupTo(ctx, db); err != nil {
		return backup.Manifest{}, fmt.Errorf("backup: %w", err)
	}
	copied := time.Since(start)
	snap, state, err := n.raft.BackupSnapshot()
	if err != nil {
		return backup.Manifest{}, fmt.Errorf("backup: %w", err)
	}
	defer state.Close()

	aw, err := backup.NewWriter(w, n.now())
	if err != nil {
		return backup.Manifest{}, err
	}
	if err := aw.AddFile(backup.DataPrefix+storeFile, db); err != nil {
		return backup.Manifest{}, err
	}
	if err := aw.Add(backup.RaftState, snap.Size, state); err != nil {
		return backup.Manifest{}, err
	}
	if err := n.backupFiles(ctx, aw); err != nil {
		return backup.Manifest{}, err
	}
	if opts.Media {
		if err := n.backupMedia(ctx, aw); err != nil {
			return backup.Manifest{}, err
		}
	}
	m := backup.Manifest{SitelineVersion: Version, NodeID: n.nodeID, Site: n.cfg.Node.Site, OrgID: n.orgID, Media: opts.Media,
		HistoryDatabase: n.historyDatabase(),
		Raft:            backup.RaftSnapshot{Index: snap.Index, Term: snap.Term, ConfigurationIndex: snap.ConfigurationIndex}}
	for _, s := range snap.Servers {
		m.Raft.Servers = append(m.Raft.Servers, backup.RaftServer{ID: s.ID, Address: s.Address, Voter: s.Voter})
	}
	m, err = aw.Close(m)
	if err == nil {
		n.log.Info("backup written", "files", len(m.Files), "bytes", m.Size(), "media", opts.Media, "raft_index", snap.Index,
			"store_copy", copied.Round(time.Millisecond), "took", time.Since(start).Round(time.Millisecond))
	}
	return m, err
}

// backupFiles adds the data directory's files but those backupSkips names
// and the staging directories of backups.
func (n *Node) backupFiles(ctx context.Context, aw *backup.Writer) error {
	root := n.cfg.DataDir
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != root {
				return nil
			}
			return fmt.Errorf("backup: %w", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		if backupSkips[top] || strings.HasPrefix(top, backupTempPrefix) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return aw.AddFile(backup.DataPrefix+filepath.ToSlash(rel), path)
	})
}

// backupMedia adds every blob of the media store.
func (n *Node) backupMedia(ctx context.Context, aw *backup.Writer) error {
	keys, err := n.blobs.Keys(n.now().Add(time.Hour))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, key := range keys {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f, err := n.blobs.Open(key)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by the sweep since the listing
		}
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		err = aw.Add(backup.MediaPrefix+key, f.Size(), io.NewSectionReader(f, 0, f.Size()))
		f.Close()
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return nil
}

// backupSocketFile is the socket on which a running node makes backups
// for its operator: the CLI's `siteline backup` asks there. It is apart
// from the admin socket, whose HTTP server bounds each response to a
// minute, which an archive of gigabytes outlasts; like it, it is the data
// directory owner's alone (0600).
const backupSocketFile = "backup.sock"

// BackupSocketPath is where the node owning dataDir makes backups.
func BackupSocketPath(dataDir string) string { return filepath.Join(dataDir, backupSocketFile) }

// BackupErrorTrailer is the HTTP trailer in which the backup socket names
// what stopped a backup after its archive had started to stream.
const BackupErrorTrailer = "Siteline-Backup-Error"

// startBackupSocket serves POST /backup (?media=1 for the blobs) on the
// backup socket until the node stops.
func (n *Node) startBackupSocket() error {
	sock := BackupSocketPath(n.cfg.DataDir)
	_ = os.Remove(sock) // a stale socket of a node that did not stop cleanly
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("backup socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("backup socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /backup", n.serveBackup)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return n.lifetime }}
	n.serve(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	n.onStop("backup socket", func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		_ = os.Remove(sock)
		return err
	})
	return nil
}

// serveBackup streams an archive. An error before the first byte is a
// 500 naming it; one after is the trailer's, and the archive stops short
// (which its reader refuses as truncated).
func (n *Node) serveBackup(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Trailer", BackupErrorTrailer)
	cw := &countingWriter{w: w}
	_, err := n.Backup(r.Context(), cw, BackupOptions{Media: r.URL.Query().Get("media") == "1"})
	if err == nil {
		return
	}
	n.log.Error("backup failed", "err", err)
	if cw.n == 0 {
		w.Header().Del("Trailer")
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set(BackupErrorTrailer, err.Error())
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
