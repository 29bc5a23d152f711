package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"siteline/web"
)

// Media files follow site history to headquarters lazily. Headquarters
// applies a plant's media and recording rows with the plant's node id as
// their origin (storage/sqlite/history_apply.go) but not their bytes; the
// first time someone opens one there, the node fetches the blob from its
// origin over NATS (the federation's leaf links, mutual TLS), in chunks of
// blobChunk bytes on the subject siteline.blob.<node id>, checks the bytes
// against the key (their SHA-256), and keeps them in its own blob store:
// the second view is local, and so is every view once the plant is gone.

const (
	blobSubjectPrefix = "siteline.blob."
	// blobChunk is the most a chunk answer carries: well under NATS's
	// default maximum payload of 1 MiB.
	blobChunk = 256 << 10
	// blobChunkWait bounds the wait for one chunk.
	blobChunkWait = 15 * time.Second

	hdrBlobSize  = "Siteline-Blob-Size"
	hdrBlobError = "Siteline-Error"
)

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
	blobs *blobStore
}

func (bs blobServer) serve(m *nats.Msg) {
	reply := nats.NewMsg(m.Reply)
	data, size, err := bs.chunk(m.Data)
	if err != nil {
		reply.Header.Set(hdrBlobError, err.Error())
	} else {
		reply.Header.Set(hdrBlobSize, strconv.FormatInt(size, 10))
		reply.Data = data
	}
	_ = m.RespondMsg(reply)
}

// chunk reads up to blobChunk bytes of the blob a request names and
// returns them with the blob's size.
func (bs blobServer) chunk(body []byte) ([]byte, int64, error) {
	var req blobChunkRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, 0, fmt.Errorf("malformed blob request: %v", err)
	}
	f, err := bs.blobs.open(req.Key)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("blob %s is not stored here", req.Key)
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if req.Offset < 0 || req.Offset > fi.Size() {
		return nil, 0, fmt.Errorf("offset %d is outside blob %s of %d bytes", req.Offset, req.Key, fi.Size())
	}
	buf := make([]byte, min(blobChunk, fi.Size()-req.Offset))
	n, err := f.ReadAt(buf, req.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	return buf[:n], fi.Size(), nil
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
		return &unreachableError{origin: r.origin, err: err}
	}
	if e := m.Header.Get(hdrBlobError); e != "" {
		return fmt.Errorf("%w: node %s: %s", errOriginAnswer, r.origin, e)
	}
	size, err := strconv.ParseInt(m.Header.Get(hdrBlobSize), 10, 64)
	switch {
	case err != nil || size < 0:
		return fmt.Errorf("%w: node %s answered blob %s without a valid size", errOriginAnswer, r.origin, r.key)
	case r.size >= 0 && size != r.size:
		return fmt.Errorf("%w: blob %s at node %s changed size from %d to %d bytes", errOriginAnswer, r.key, r.origin, r.size, size)
	case len(m.Data) == 0 && r.off < size:
		return fmt.Errorf("%w: node %s answered an empty chunk of blob %s at offset %d of %d", errOriginAnswer, r.origin, r.key, r.off, size)
	}
	r.size = size
	r.buf = m.Data
	r.off += int64(len(m.Data))
	return nil
}

// errOriginAnswer is a blob's origin node answering, but not with its
// bytes.
var errOriginAnswer = errors.New("the bytes could not be copied")

// unreachableError is a blob's origin node not answering.
type unreachableError struct {
	origin string
	err    error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("node %s cannot be reached now (%v)", e.origin, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// blobFetcher copies blobs from their origin nodes, once per blob however
// many viewers ask at the same time.
type blobFetcher struct {
	blobs *blobStore
	nc    func() *nats.Conn // nil conn: no bus (an offline node)

	mu       sync.Mutex
	inFlight map[string]*blobFetch
}

type blobFetch struct {
	done chan struct{}
	err  error
}

func newBlobFetcher(blobs *blobStore, nc func() *nats.Conn) *blobFetcher {
	return &blobFetcher{blobs: blobs, nc: nc, inFlight: map[string]*blobFetch{}}
}

// open opens blob key, first fetching it from origin ("" for this node)
// when it is not here. size is the blob's size as its row gives it.
func (bf *blobFetcher) open(ctx context.Context, key, origin string, size int64) (*os.File, error) {
	f, err := bf.blobs.open(key)
	if err == nil || origin == "" || !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	if err := bf.fetch(ctx, key, origin, size); err != nil {
		return nil, err
	}
	return bf.blobs.open(key)
}

// fetch copies blob key from origin. The copy runs on when ctx ends (a
// viewer gone does not waste the chunks already here for the next one);
// its own chunk timeouts bound it.
func (bf *blobFetcher) fetch(ctx context.Context, key, origin string, size int64) error {
	bf.mu.Lock()
	f, ok := bf.inFlight[key]
	if !ok {
		f = &blobFetch{done: make(chan struct{})}
		bf.inFlight[key] = f
		go func() {
			f.err = bf.copy(key, origin, size)
			bf.mu.Lock()
			delete(bf.inFlight, key)
			bf.mu.Unlock()
			close(f.done)
		}()
	}
	bf.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (bf *blobFetcher) copy(key, origin string, size int64) error {
	nc := bf.nc()
	if nc == nil {
		return &unreachableError{origin: origin, err: errors.New("this node runs without its message bus")}
	}
	r := &remoteBlob{nc: nc, origin: origin, key: key, size: -1}
	if _, err := bf.blobs.putKey(r, max(size, 1), key); err != nil {
		return fmt.Errorf("fetch blob %s from node %s: %w", key, origin, err)
	}
	return nil
}

// mediaUnreachable is the answer when the bytes of what (a media or
// recording) could not be opened: their origin node out of reach (503),
// or answering other bytes than the key names (502, nothing kept).
func mediaUnreachable(what string, err error) error {
	var ue *unreachableError
	switch {
	case errors.As(err, &ue):
		return &web.Error{Status: 503, Code: "media_unreachable",
			Message: fmt.Sprintf("the bytes of %s are kept at the site where it was recorded, and %s; they are copied here on the first view once the site is reachable", what, ue)}
	case errors.Is(err, errBlobMismatch):
		return &web.Error{Status: 502, Code: "media_mismatch",
			Message: fmt.Sprintf("%s: the site where it was recorded answered other bytes than it recorded; nothing was kept: %v", what, err)}
	case errors.Is(err, errOriginAnswer), errors.Is(err, errBlobTooLarge):
		return &web.Error{Status: 502, Code: "media_unavailable",
			Message: fmt.Sprintf("%s: the site where it was recorded could not give its bytes; nothing was kept: %v", what, err)}
	}
	return fmt.Errorf("%s: %w", what, err)
}
