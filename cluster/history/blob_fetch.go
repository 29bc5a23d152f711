package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"siteline/cluster/bus"
	"siteline/storage"
	"siteline/storage/blob"
)

// Media files follow site history to headquarters lazily. Headquarters
// applies a plant's media and recording rows with the plant's node id as
// their origin (storage/sqlite/history_apply.go) but not their bytes; the
// first time someone opens one there, the node fetches the blob from its
// origin over NATS (the federation's leaf links, mutual TLS), in chunks of
// BlobChunk bytes on the subject siteline.blob.<node id>, checks the bytes
// against the key (their SHA-256), and keeps them in its own blob store:
// the second view is local, and so is every view once the plant is gone.

const (
	blobSubjectPrefix = "siteline.blob."
	// BlobChunk is the most a chunk answer carries: well under NATS's
	// default maximum payload of 1 MiB.
	BlobChunk = 256 << 10
	// blobChunkWait bounds the wait for one chunk.
	blobChunkWait = 15 * time.Second

	hdrBlobSize = "Siteline-Blob-Size"
	// hdrBlobMissing marks the answer of an origin that does not hold the
	// blob (deleted there, its deletion not yet arrived here).
	hdrBlobMissing = "Siteline-Blob-Missing"
)

// Blobs is the node's blob store (storage/blob) as the transfer uses it.
type Blobs interface {
	// Open opens a stored blob; a missing one is os.ErrNotExist.
	Open(key string) (blob.Object, error)
	Has(key string) bool
	// PutKey stores bytes under the key they must hash to, and nothing
	// when they hash to anything else (storage.ErrBlobMismatch).
	PutKey(r io.Reader, max int64, key string) (storage.Blob, error)
}

// BlobLister lists the blobs of the media and recordings forwarded to
// this node, for the copier.
type BlobLister interface {
	ForwardedBlobs(ctx context.Context) ([]storage.BlobRef, error)
}

// TransferConfig is what a Transfer is built from.
type TransferConfig struct {
	NodeID string
	// Bus carries the chunks; nil on a node without one (offline), which
	// opens its own blobs only.
	Bus   *bus.Bus
	Blobs Blobs
	// CopyAlways copies the bytes of every forwarded media and recording
	// as their rows arrive (media.copy_from_sites: always), every
	// CopyEvery (default 5 s), listing them from Store.
	CopyAlways bool
	CopyEvery  time.Duration
	Store      BlobLister
	Logger     *slog.Logger
}

// Transfer serves this node's blobs to the federation and copies other
// nodes' blobs here, once per blob however many viewers ask at the same
// time.
type Transfer struct {
	blobs  Blobs
	bus    *bus.Bus
	sub    *nats.Subscription
	copier *copier // CopyAlways

	mu       sync.Mutex
	inFlight map[string]*blobFetch
}

type blobFetch struct {
	done chan struct{}
	err  error
}

// StartTransfer answers other nodes' chunk requests for this node's blobs
// (when it has a bus) and starts the copier if asked. Stop ends both.
func StartTransfer(cfg TransferConfig) (*Transfer, error) {
	t := &Transfer{blobs: cfg.Blobs, bus: cfg.Bus, inFlight: map[string]*blobFetch{}}
	if cfg.Bus == nil {
		return t, nil
	}
	var err error
	if t.sub, err = cfg.Bus.Conn().Subscribe(blobSubjectPrefix+cfg.NodeID, blobServer{cfg.Blobs}.serve); err != nil {
		return nil, fmt.Errorf("serve media to the federation: %w", err)
	}
	if cfg.CopyAlways {
		every := cfg.CopyEvery
		if every <= 0 {
			every = mediaCopyEvery
		}
		log := cfg.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		t.copier = startCopier(t, cfg.Store, log.With("component", "media-copy"), every)
	}
	return t, nil
}

// Stop ends the copier and stops answering chunk requests.
func (t *Transfer) Stop() {
	if t.copier != nil {
		t.copier.stop()
	}
	if t.sub != nil {
		_ = t.sub.Unsubscribe()
	}
}

// blobChunkRequest asks a node for the bytes of one of its blobs from
// Offset on.
type blobChunkRequest struct {
	Key    string `json:"key"`
	Offset int64  `json:"offset"`
}

// blobServer answers other nodes' chunk requests for this node's blobs.
// Only nodes of the federation reach the subject: the node's NATS client
// port is its own, and leaf links need the federation's certificates.
type blobServer struct {
	blobs Blobs
}

func (bs blobServer) serve(m *nats.Msg) {
	reply := nats.NewMsg(m.Reply)
	data, size, err := bs.chunk(m.Data)
	if err != nil {
		reply.Header.Set(hdrError, err.Error())
		if errors.Is(err, os.ErrNotExist) {
			reply.Header.Set(hdrBlobMissing, "1")
		}
	} else {
		reply.Header.Set(hdrBlobSize, strconv.FormatInt(size, 10))
		reply.Data = data
	}
	_ = m.RespondMsg(reply)
}

// chunk reads up to BlobChunk bytes of the blob a request names and
// returns them with the blob's size.
func (bs blobServer) chunk(body []byte) ([]byte, int64, error) {
	var req blobChunkRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, 0, fmt.Errorf("malformed blob request: %v", err)
	}
	f, err := bs.blobs.Open(req.Key)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("blob %s is not stored here: %w", req.Key, os.ErrNotExist)
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	size := f.Size()
	if req.Offset < 0 || req.Offset > size {
		return nil, 0, fmt.Errorf("offset %d is outside blob %s of %d bytes", req.Offset, req.Key, size)
	}
	buf := make([]byte, min(BlobChunk, size-req.Offset))
	n, err := f.ReadAt(buf, req.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	return buf[:n], size, nil
}

// remoteBlob reads a blob of another node, chunk after chunk.
type remoteBlob struct {
	nc     *nats.Conn
	origin string
	key    string
	off    int64
	size   int64 // -1 until the first answer
	buf    []byte
}

func (r *remoteBlob) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.size >= 0 && r.off >= r.size {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *remoteBlob) next() error {
	req, _ := json.Marshal(blobChunkRequest{Key: r.key, Offset: r.off})
	m, err := r.nc.Request(blobSubjectPrefix+r.origin, req, blobChunkWait)
	if err != nil {
		return &UnreachableError{Origin: r.origin, Err: err}
	}
	if e := m.Header.Get(hdrError); e != "" {
		if m.Header.Get(hdrBlobMissing) != "" {
			return fmt.Errorf("%w: node %s: %s", ErrOriginMissing, r.origin, e)
		}
		return fmt.Errorf("%w: node %s: %s", ErrOriginAnswer, r.origin, e)
	}
	size, err := strconv.ParseInt(m.Header.Get(hdrBlobSize), 10, 64)
	switch {
	case err != nil || size < 0:
		return fmt.Errorf("%w: node %s answered blob %s without a valid size", ErrOriginAnswer, r.origin, r.key)
	case r.size >= 0 && size != r.size:
		return fmt.Errorf("%w: blob %s at node %s changed size from %d to %d bytes", ErrOriginAnswer, r.key, r.origin, r.size, size)
	case len(m.Data) == 0 && r.off < size:
		return fmt.Errorf("%w: node %s answered an empty chunk of blob %s at offset %d of %d", ErrOriginAnswer, r.origin, r.key, r.off, size)
	}
	r.size = size
	r.buf = m.Data
	r.off += int64(len(m.Data))
	return nil
}

// ErrOriginAnswer is a blob's origin node answering, but not with its
// bytes.
var ErrOriginAnswer = errors.New("the bytes could not be copied")

// ErrOriginMissing is a blob's origin node answering that it no longer
// holds the blob: deleted there, the deletion not yet arrived here.
var ErrOriginMissing = errors.New("the site where it was recorded no longer keeps it")

// UnreachableError is a blob's origin node not answering.
type UnreachableError struct {
	Origin string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("node %s cannot be reached now (%v)", e.Origin, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Open opens blob key, first fetching it from origin ("" for this node)
// when it is not here. size is the blob's size as its row gives it.
func (t *Transfer) Open(ctx context.Context, key, origin string, size int64) (blob.Object, error) {
	f, err := t.blobs.Open(key)
	if err == nil || origin == "" || !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	if err := t.fetch(ctx, key, origin, size); err != nil {
		return nil, err
	}
	return t.blobs.Open(key)
}

// fetch copies blob key from origin. The copy runs on when ctx ends (a
// viewer gone does not waste the chunks already here for the next one);
// its own chunk timeouts bound it.
func (t *Transfer) fetch(ctx context.Context, key, origin string, size int64) error {
	t.mu.Lock()
	f, ok := t.inFlight[key]
	if !ok {
		f = &blobFetch{done: make(chan struct{})}
		t.inFlight[key] = f
		go func() {
			f.err = t.copy(key, origin, size)
			t.mu.Lock()
			delete(t.inFlight, key)
			t.mu.Unlock()
			close(f.done)
		}()
	}
	t.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Transfer) copy(key, origin string, size int64) error {
	if t.bus == nil {
		return &UnreachableError{Origin: origin, Err: errors.New("this node runs without its message bus")}
	}
	r := &remoteBlob{nc: t.bus.Conn(), origin: origin, key: key, size: -1}
	if _, err := t.blobs.PutKey(r, max(size, 1), key); err != nil {
		return fmt.Errorf("fetch blob %s from node %s: %w", key, origin, err)
	}
	return nil
}
