package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxMetaEntry bounds the format, manifest and checksum entries, which are
// read into memory.
const maxMetaEntry = 64 << 20

// Verify reads a whole archive and checks it: its format and version,
// every file against the manifest, the manifest against its checksum. It
// returns the manifest of an archive that passes, and otherwise an error
// that wraps ErrForeign, ErrNewer, ErrTruncated or ErrCorrupt and names
// the problem.
func Verify(r io.Reader) (Manifest, error) {
	return Read(r, nil)
}

// Read reads an archive like Verify and hands each file to sink (when not
// nil) as it goes: sink reads the file's bytes from r. The archive is
// known good only when Read returns no error: a caller that writes what
// sink gets verifies the archive first, or discards what it wrote on an
// error.
func Read(r io.Reader, sink func(name string, size int64, r io.Reader) error) (Manifest, error) {
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	switch {
	case err == io.EOF:
		return Manifest{}, fmt.Errorf("%w: the file is empty", ErrForeign)
	case err != nil:
		return Manifest{}, fmt.Errorf("%w: it is not a tar archive (%v)", ErrForeign, err)
	case hdr.Name != formatEntry:
		return Manifest{}, fmt.Errorf("%w: a tar archive whose first entry is %q, not %q", ErrForeign, hdr.Name, formatEntry)
	}
	b, err := readMeta(tr, hdr)
	if err != nil {
		return Manifest{}, err
	}
	var head header
	if err := json.Unmarshal(b, &head); err != nil || head.Format != Format {
		return Manifest{}, fmt.Errorf("%w: its format entry does not name the format %q", ErrForeign, Format)
	}
	if head.Version > Version {
		return Manifest{}, fmt.Errorf("%w: the archive is format version %d, this siteline reads version %d and older; restore it with a newer siteline",
			ErrNewer, head.Version, Version)
	}
	if head.Version < 1 {
		return Manifest{}, fmt.Errorf("%w: format version %d", ErrCorrupt, head.Version)
	}

	seen := map[string]File{}
	var order []string
	for {
		hdr, err := tr.Next()
		if err != nil {
			return Manifest{}, cut(err, fmt.Sprintf("after %d files, before its manifest", len(order)))
		}
		if hdr.Name == manifestEntry {
			return finish(tr, hdr, seen, order)
		}
		if hdr.Typeflag != tar.TypeReg || !validName(hdr.Name) {
			return Manifest{}, fmt.Errorf("%w: unexpected entry %q", ErrCorrupt, hdr.Name)
		}
		if _, dup := seen[hdr.Name]; dup {
			return Manifest{}, fmt.Errorf("%w: %s appears twice", ErrCorrupt, hdr.Name)
		}
		h := sha256.New()
		body := io.TeeReader(tr, h)
		if sink != nil {
			if err := sink(hdr.Name, hdr.Size, body); err != nil {
				if isCut(err) {
					return Manifest{}, cut(err, "inside "+hdr.Name)
				}
				return Manifest{}, err
			}
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return Manifest{}, cut(err, "inside "+hdr.Name)
		}
		seen[hdr.Name] = File{Name: hdr.Name, Size: hdr.Size, SHA256: hex.EncodeToString(h.Sum(nil))}
		order = append(order, hdr.Name)
	}
}

// finish reads the manifest and its checksum and compares the files read
// with the manifest's.
func finish(tr *tar.Reader, hdr *tar.Header, seen map[string]File, order []string) (Manifest, error) {
	b, err := readMeta(tr, hdr)
	if err != nil {
		return Manifest{}, err
	}
	sumHdr, err := tr.Next()
	if err != nil {
		return Manifest{}, cut(err, "after its manifest, before the manifest's checksum")
	}
	if sumHdr.Name != checksumEntry {
		return Manifest{}, fmt.Errorf("%w: %q where the manifest's checksum belongs", ErrCorrupt, sumHdr.Name)
	}
	sum, err := readMeta(tr, sumHdr)
	if err != nil {
		return Manifest{}, err
	}
	got := sha256.Sum256(b)
	if strings.TrimSpace(string(sum)) != hex.EncodeToString(got[:]) {
		return Manifest{}, fmt.Errorf("%w: the manifest does not match its checksum", ErrCorrupt)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	if m.Format != Format || m.Version > Version {
		return Manifest{}, fmt.Errorf("%w: the manifest names format %q version %d", ErrCorrupt, m.Format, m.Version)
	}
	if len(m.Files) != len(order) {
		return Manifest{}, fmt.Errorf("%w: the manifest lists %d files, the archive holds %d", ErrCorrupt, len(m.Files), len(order))
	}
	for _, want := range m.Files {
		got, ok := seen[want.Name]
		switch {
		case !ok:
			return Manifest{}, fmt.Errorf("%w: %s is in the manifest but not in the archive", ErrCorrupt, want.Name)
		case got.Size != want.Size:
			return Manifest{}, fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrCorrupt, want.Name, got.Size, want.Size)
		case got.SHA256 != want.SHA256:
			return Manifest{}, fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s", ErrCorrupt, want.Name, got.SHA256, want.SHA256)
		}
	}
	return m, nil
}

// readMeta reads one of the archive's own small entries.
func readMeta(tr *tar.Reader, hdr *tar.Header) ([]byte, error) {
	if hdr.Size > maxMetaEntry {
		return nil, fmt.Errorf("%w: %s is %d bytes", ErrCorrupt, hdr.Name, hdr.Size)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, tr); err != nil {
		return nil, cut(err, "inside "+hdr.Name)
	}
	return buf.Bytes(), nil
}

// cut names where reading the archive stopped: at its end (truncated) or
// at bytes tar cannot read (corrupt).
func cut(err error, where string) error {
	if isCut(err) {
		return fmt.Errorf("%w: it ends %s", ErrTruncated, where)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, where, err)
}

func isCut(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
