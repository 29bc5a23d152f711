package history

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"siteline/cluster/bus"
	"siteline/storage"
	"siteline/storage/blob"
)

func openFS(t *testing.T) *blob.FS {
	t.Helper()
	fs, err := blob.OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func putRandom(t *testing.T, fs *blob.FS, n int) (storage.Blob, []byte) {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	b, err := fs.Put(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	return b, data
}

func startTransfer(t *testing.T, cfg TransferConfig) *Transfer {
	t.Helper()
	cfg.Logger = testLogger(t)
	tr, err := StartTransfer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Stop)
	return tr
}

func readAll(t *testing.T, tr *Transfer, key, origin string, size int64) ([]byte, error) {
	t.Helper()
	f, err := tr.Open(testContext(t), key, origin, size)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
}

// TestBlobServerRefusals: the chunk server answers malformed requests,
// unknown keys and offsets past the end with an error, not bytes.
func TestBlobServerRefusals(t *testing.T) {
	blobs := openFS(t)
	b, err := blobs.Put(bytes.NewReader([]byte("twelve bytes")), 0)
	if err != nil {
		t.Fatal(err)
	}
	bs := blobServer{blobs}
	req := func(key string, off int64) []byte {
		body, _ := json.Marshal(blobChunkRequest{Key: key, Offset: off})
		return body
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"malformed", `{"key": 7}`, "malformed blob request"},
		{"not a key", string(req("../etc/passwd", 0)), "not a SHA-256 key"},
		{"unknown", string(req(strings.Repeat("ab", 32), 0)), "is not stored here"},
		{"past the end", string(req(b.Key, 13)), "outside blob"},
		{"negative", string(req(b.Key, -1)), "outside blob"},
	} {
		if data, _, err := bs.chunk([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) || data != nil {
			t.Errorf("%s: %q, %v; want an error with %q", tc.name, data, err, tc.want)
		}
	}
	data, size, err := bs.chunk(req(b.Key, 7))
	if err != nil || string(data) != "bytes" || size != 12 {
		t.Errorf("chunk at 7 = %q of %d, %v", data, size, err)
	}
	if data, size, err := bs.chunk(req(b.Key, 12)); err != nil || len(data) != 0 || size != 12 {
		t.Errorf("chunk at the end = %q of %d, %v", data, size, err)
	}
	if _, err := blobs.PutKey(bytes.NewReader([]byte("other")), 0, b.Key); !errors.Is(err, storage.ErrBlobMismatch) {
		t.Errorf("PutKey with other bytes = %v, want a mismatch", err)
	}
}

// TestTransferCopiesFromTheOrigin: headquarters opens a plant's blob by
// copying it over the leaf link in chunks, then from its own store; a
// blob the origin does not hold, or bytes other than the key names, keep
// nothing; a node nobody answers for is unreachable.
func TestTransferCopiesFromTheOrigin(t *testing.T) {
	hqBus, plantBus := linkedBuses(t)
	plantBlobs, hqBlobs := openFS(t), openFS(t)
	startTransfer(t, TransferConfig{NodeID: "p1", Bus: plantBus, Blobs: plantBlobs})
	hq := startTransfer(t, TransferConfig{NodeID: "hq", Bus: hqBus, Blobs: hqBlobs})
	waitServed(t, hqBus, "p1")

	b, data := putRandom(t, plantBlobs, 2*BlobChunk+10) // three chunks
	got, err := readAll(t, hq, b.Key, "p1", b.Size)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first open at headquarters: %d bytes, %v; want the plant's %d", len(got), err, len(data))
	}
	if !hqBlobs.Has(b.Key) {
		t.Error("the copy was not kept at headquarters")
	}

	missing := strings.Repeat("ab", 32)
	if _, err := readAll(t, hq, missing, "p1", 10); !errors.Is(err, ErrOriginMissing) || hqBlobs.Has(missing) {
		t.Errorf("open of a blob the plant does not hold = %v, want ErrOriginMissing and nothing kept", err)
	}

	// The plant's file no longer matches its key.
	other, _ := putRandom(t, plantBlobs, 100)
	tampered := strings.Repeat("cd", 32)
	if err := renameBlob(plantBlobs, other.Key, tampered); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, hq, tampered, "p1", other.Size); !errors.Is(err, storage.ErrBlobMismatch) || hqBlobs.Has(tampered) {
		t.Errorf("open of tampered bytes = %v, want a mismatch and nothing kept", err)
	}

	var ue *UnreachableError
	if _, err := readAll(t, hq, missing, "p9", 10); !errors.As(err, &ue) || ue.Origin != "p9" {
		t.Errorf("open from a node nobody answers for = %v, want UnreachableError", err)
	}
}

// waitServed waits until node id's chunk server is reachable from b: a
// subscription takes a moment to cross a leaf link.
func waitServed(t *testing.T, b *bus.Bus, id string) {
	t.Helper()
	eventually(t, 10*time.Second, "chunk server of "+id+" reachable", func() bool {
		m, err := b.Conn().Request(blobSubjectPrefix+id, []byte("{}"), time.Second)
		return err == nil && m.Header.Get(hdrError) != ""
	})
}

// renameBlob moves blob from to key to, as a disk fault or tampering
// would leave it.
func renameBlob(fs *blob.FS, from, to string) error {
	f, err := fs.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
	if err != nil {
		return err
	}
	return os.WriteFile(fs.Path(to), data, 0o600)
}

// TestTransferCopiesAlways: with CopyAlways, headquarters copies every
// forwarded blob without a view, skipping what it already holds.
func TestTransferCopiesAlways(t *testing.T) {
	hqBus, plantBus := linkedBuses(t)
	plantBlobs, hqBlobs := openFS(t), openFS(t)
	startTransfer(t, TransferConfig{NodeID: "p1", Bus: plantBus, Blobs: plantBlobs})
	b1, _ := putRandom(t, plantBlobs, 1000)
	b2, _ := putRandom(t, plantBlobs, BlobChunk+1)
	store := newFakeStore()
	store.forwards = []storage.BlobRef{{Key: b1.Key, Origin: "p1", Size: b1.Size}, {Key: b2.Key, Origin: "p1", Size: b2.Size}}
	startTransfer(t, TransferConfig{NodeID: "hq", Bus: hqBus, Blobs: hqBlobs, CopyAlways: true, CopyEvery: 50 * time.Millisecond, Store: store})
	eventually(t, 20*time.Second, "forwarded blobs copied", func() bool { return hqBlobs.Has(b1.Key) && hqBlobs.Has(b2.Key) })
}

// TestTransferWithoutBus: a node without a bus opens its own blobs, and
// calls every other node's unreachable.
func TestTransferWithoutBus(t *testing.T) {
	blobs := openFS(t)
	tr := startTransfer(t, TransferConfig{NodeID: "n1", Blobs: blobs, CopyAlways: true})
	b, data := putRandom(t, blobs, 64)
	if got, err := readAll(t, tr, b.Key, "", b.Size); err != nil || !bytes.Equal(got, data) {
		t.Errorf("own blob = %d bytes, %v", len(got), err)
	}
	var ue *UnreachableError
	if _, err := tr.Open(context.Background(), strings.Repeat("ef", 32), "p1", 10); !errors.As(err, &ue) {
		t.Errorf("another node's blob = %v, want UnreachableError", err)
	}
}
