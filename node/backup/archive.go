// Package backup is the format of a node's backup archive: a tar stream
// whose first entry names the format and its version, then the files, then
// a manifest listing every file with its size and SHA-256, then the
// manifest's own SHA-256. A writer computes the sums as it streams, so the
// archive is written once, front to back; a reader checks it the same way
// and refuses, naming the problem, an archive that is not one of ours
// (foreign), one from a newer format, one cut short (truncated) or one
// whose bytes changed (corrupt).
package backup

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
)

const (
	// Format names the archive format in its first entry and manifest.
	Format = "siteline-backup"
	// Version is the format version this code writes and the newest it
	// reads.
	Version = 1

	formatEntry   = Format + "/FORMAT"
	manifestEntry = Format + "/MANIFEST.json"
	checksumEntry = Format + "/MANIFEST.sha256"
)

// The ways an archive is refused; errors wrap one of them.
var (
	ErrForeign   = errors.New("not a Siteline backup archive")
	ErrNewer     = errors.New("backup archive from a newer format")
	ErrTruncated = errors.New("truncated backup archive")
	ErrCorrupt   = errors.New("corrupt backup archive")
)

// Manifest describes an archive: what node it is of, when it was made,
// the Raft state it carries and every file with its size and SHA-256.
type Manifest struct {
	Format          string    `json:"format"`
	Version         int       `json:"version"`
	SitelineVersion string    `json:"siteline_version"`
	Created         time.Time `json:"created"`
	NodeID          string    `json:"node_id"`
	Site            string    `json:"site"`
	OrgID           string    `json:"org_id"`
	// Media tells whether the media blobs are in the archive.
	Media bool `json:"media"`
	// HistoryDatabase names the database the node's history is kept in
	// besides its SQLite store ("postgres"), which the archive does not
	// hold: that database is backed up with its own tools. "" when the
	// SQLite store holds it all.
	HistoryDatabase string `json:"history_database,omitempty"`
	// Raft is the snapshot of the organisation store the archive carries
	// (RaftState is its content).
	Raft  RaftSnapshot `json:"raft"`
	Files []File       `json:"files"`
}

// RaftSnapshot is the Raft snapshot's metadata: the log position it
// stands for and the cluster configuration as of it.
type RaftSnapshot struct {
	Index              uint64       `json:"index"`
	Term               uint64       `json:"term"`
	ConfigurationIndex uint64       `json:"configuration_index"`
	Servers            []RaftServer `json:"servers"`
}

// RaftServer is one server of the Raft configuration.
type RaftServer struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
}

// File is one file of the archive.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Size is the total size of the archive's files.
func (m Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Names of the archive's files: the node's data directory (its SQLite
// store, keys and configuration), the Raft snapshot's content, and the
// media blobs when asked for.
const (
	DataPrefix  = "data/"
	MediaPrefix = "media/"
	RaftState   = "raft/state.bin"
)

// validName tells whether name may be a file of an archive: a clean,
// relative path under one of the prefixes above.
func validName(name string) bool {
	if name == RaftState {
		return true
	}
	if !strings.HasPrefix(name, DataPrefix) && !strings.HasPrefix(name, MediaPrefix) {
		return false
	}
	return path.Clean(name) == name && !strings.Contains(name, "..") && !strings.HasSuffix(name, "/")
}

type header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// Writer writes an archive.
type Writer struct {
	tw    *tar.Writer
	now   time.Time
	files []File
	names map[string]bool
}

// NewWriter starts an archive on w: it writes the format entry.
func NewWriter(w io.Writer, now time.Time) (*Writer, error) {
	aw := &Writer{tw: tar.NewWriter(w), now: now.UTC(), names: map[string]bool{}}
	b, _ := json.Marshal(header{Format: Format, Version: Version})
	if err := aw.entry(formatEntry, b); err != nil {
		return nil, err
	}
	return aw, nil
}

func (w *Writer) entry(name string, b []byte) error {
	if err := w.tw.WriteHeader(w.hdr(name, int64(len(b)))); err != nil {
		return fmt.Errorf("write backup archive: %w", err)
	}
	if _, err := w.tw.Write(b); err != nil {
		return fmt.Errorf("write backup archive: %w", err)
	}
	return nil
}

func (w *Writer) hdr(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: w.now, Format: tar.FormatPAX}
}

// Add writes a file of size bytes read from r, and sums them.
func (w *Writer) Add(name string, size int64, r io.Reader) error {
	if !validName(name) || w.names[name] {
		return fmt.Errorf("write backup archive: bad or repeated file name %q", name)
	}
	if err := w.tw.WriteHeader(w.hdr(name, size)); err != nil {
		return fmt.Errorf("write backup archive: %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w.tw, h), io.LimitReader(r, size))
	if err == nil && n != size {
		err = fmt.Errorf("%d bytes where %d were expected (the file changed while it was read)", n, size)
	}
	if err != nil {
		return fmt.Errorf("write backup archive: %s: %w", name, err)
	}
	w.names[name] = true
	w.files = append(w.files, File{Name: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// AddFile writes the file at path as name.
func (w *Writer) AddFile(name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("write backup archive: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("write backup archive: %w", err)
	}
	return w.Add(name, info.Size(), f)
}

// Close completes the archive with m, whose format, version, creation
// time and file list it fills in, and the manifest's checksum. It returns
// the manifest written.
func (w *Writer) Close(m Manifest) (Manifest, error) {
	m.Format, m.Version, m.Created, m.Files = Format, Version, w.now, w.files
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("write backup archive: manifest: %w", err)
	}
	sum := sha256.Sum256(b)
	if err := w.entry(manifestEntry, b); err != nil {
		return m, err
	}
	if err := w.entry(checksumEntry, []byte(hex.EncodeToString(sum[:])+"\n")); err != nil {
		return m, err
	}
	if err := w.tw.Close(); err != nil {
		return m, fmt.Errorf("write backup archive: %w", err)
	}
	return m, nil
}
