package backup

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

const dbContent = "store page "

// sample is a small good archive: two files and a manifest.
func sample(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	db := strings.Repeat(dbContent, 2000)
	if err := w.Add(DataPrefix+"siteline.db", int64(len(db)), strings.NewReader(db)); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(RaftState, 5, strings.NewReader("state")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(Manifest{NodeID: "plant-1", Site: "Plant 1"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarOf is a tar archive of the given name, content pairs, in order.
func tarOf(t *testing.T, entries ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(entries); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: entries[i], Size: int64(len(entries[i+1])), Mode: 0o600}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(entries[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// blockOf is the offset of the tar block that holds the first s.
func blockOf(t *testing.T, b []byte, s string) int {
	t.Helper()
	i := bytes.Index(b, []byte(s))
	if i < 0 {
		t.Fatalf("%q is not in the archive", s)
	}
	return i / 512 * 512
}

func TestBackupArchiveRoundTrip(t *testing.T) {
	a := sample(t)
	m, err := Verify(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("verify a good archive: %v", err)
	}
	if m.NodeID != "plant-1" || m.Version != Version || len(m.Files) != 2 || m.Files[0].Name != DataPrefix+"siteline.db" ||
		m.Files[1].Size != 5 || m.Size() != int64(len(dbContent)*2000+5) {
		t.Fatalf("manifest = %+v", m)
	}
	got := map[string]string{}
	if _, err := Read(bytes.NewReader(a), func(name string, _ int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[name] = string(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got[RaftState] != "state" || got[DataPrefix+"siteline.db"] != strings.Repeat(dbContent, 2000) {
		t.Fatalf("files read = %d of them, raft state %q", len(got), got[RaftState])
	}
}

// TestBackupArchiveRefusals: each kind of bad archive is refused with its
// kind and a message naming the problem.
func TestBackupArchiveRefusals(t *testing.T) {
	good := sample(t)
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x20
		return b
	}
	manifest := bytes.Index(good, []byte(`"node_id": "plant-1"`))
	newer := tarOf(t, formatEntry, `{"format":"siteline-backup","version":2}`, DataPrefix+"x", "x")
	for _, tc := range []struct {
		name    string
		archive []byte
		kind    error
		message string
	}{
		{"a byte of a file changed", flip(bytes.Index(good, []byte(dbContent)) + 3000), ErrCorrupt,
			"corrupt backup archive: data/siteline.db has SHA-256"},
		{"a byte of the manifest changed", flip(manifest + 12), ErrCorrupt,
			"corrupt backup archive: the manifest does not match its checksum"},
		{"a byte of a tar header changed", flip(blockOf(t, good, RaftState) + 130), ErrCorrupt, "corrupt backup archive"},
		{"cut inside a file", good[:blockOf(t, good, dbContent)+4000], ErrTruncated,
			"truncated backup archive: it ends inside data/siteline.db"},
		{"cut before the manifest", good[:blockOf(t, good, manifestEntry)], ErrTruncated,
			"truncated backup archive: it ends after 2 files, before its manifest"},
		{"cut before the checksum", good[:blockOf(t, good, checksumEntry)], ErrTruncated,
			"truncated backup archive: it ends after its manifest"},
		{"empty", nil, ErrForeign, "not a Siteline backup archive: the file is empty"},
		{"not a tar", []byte(strings.Repeat("PK\x03\x04 zip bytes ", 100)), ErrForeign,
			"not a Siteline backup archive: it is not a tar archive"},
		{"another tar", tarOf(t, "etc/hosts", "127.0.0.1 localhost\n"), ErrForeign,
			`not a Siteline backup archive: a tar archive whose first entry is "etc/hosts"`},
		{"another format", tarOf(t, formatEntry, `{"format":"other","version":1}`), ErrForeign,
			`does not name the format "siteline-backup"`},
		{"a newer version", newer, ErrNewer,
			"the archive is format version 2, this siteline reads version 1 and older; restore it with a newer siteline"},
		{"a file outside the archive's names", tarOf(t, formatEntry, `{"format":"siteline-backup","version":1}`, "../etc/passwd", "x"),
			ErrCorrupt, `unexpected entry "../etc/passwd"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.archive), func(string, int64, io.Reader) error { return nil })
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("error = %v; want %v with %q", err, tc.kind, tc.message)
			}
			if _, verr := Verify(bytes.NewReader(tc.archive)); verr == nil || verr.Error() != err.Error() {
				t.Fatalf("Verify = %v, Read = %v", verr, err)
			}
		})
	}
}
