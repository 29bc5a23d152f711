package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"siteline/storage"
)

// S3Config locates a bucket of an S3-compatible object store (AWS S3,
// MinIO, Ceph RGW, Versity) and the credentials to reach it.
type S3Config struct {
	// Endpoint is the store's host[:port] (s3.eu-west-1.amazonaws.com,
	// minio.plant.lan:9000).
	Endpoint string
	Bucket   string
	// Region is the bucket's region; "" lets the client ask the store.
	Region string
	// Prefix starts the name of every object (a key under a shared bucket:
	// "siteline/hq1/").
	Prefix string
	// AccessKey and SecretKey are the credentials; when both are empty
	// they are read from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and
	// AWS_SESSION_TOKEN).
	AccessKey string
	SecretKey Secret
	// UseSSL speaks HTTPS to the endpoint.
	UseSSL bool
	// SpoolDir is a local directory where the bytes of an upload are
	// hashed before they go up under their key.
	SpoolDir string
	// Transport, when set, carries the requests (a custom CA's).
	Transport http.RoundTripper
}

// Secret is a credential: printed, logged or marshalled, it shows
// nothing of itself.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalYAML writes nothing of a secret: a configuration written out
// keeps its credentials where they came from (the environment).
func (s Secret) MarshalYAML() (any, error) { return "", nil }

// metaSHA256 is the user metadata holding an object's SHA-256, which a
// reader checks against the key it asked for.
const metaSHA256 = "Sha256"

// metaTimeout bounds a request that moves no blob bytes (a stat, a list
// page, a removal).
const metaTimeout = 30 * time.Second

// S3 keeps blobs as objects of one bucket, each named Prefix+key. The
// bytes of a blob first stream into a file of the local spool directory,
// hashed on the way; once their key is known they go up under it in one
// PUT (or one multipart upload, completed at once), so that an object
// under a key is always complete and holds the bytes the key names. A key
// is returned only when the store has acknowledged its object: callers
// write their row after that, as with FS. An upload a crash interrupted
// leaves a file in the spool directory, removed when the store opens, and
// at most an incomplete multipart upload, which a lifecycle rule of the
// bucket aborts.
//
// Removals and writes are ordered as in FS: a writer holds its key from
// before its upload until its upload returns (Put) or its release (PutHeld),
// and Remove, under the same mutex, leaves a held key alone.
type S3 struct {
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string
	spool  string
	where  string // bucket and endpoint, for errors

	mu   sync.Mutex
	held holds
}

var _ Store = (*S3)(nil)

// OpenS3 connects to the bucket of cfg and fails with a clear error when
// it cannot be reached, the credentials are refused or it does not exist.
func OpenS3(ctx context.Context, cfg S3Config) (*S3, error) {
	where := fmt.Sprintf("s3 bucket %q at %s", cfg.Bucket, cfg.Endpoint)
	switch {
	case cfg.Endpoint == "":
		return nil, errors.New("open media store on s3: no endpoint")
	case cfg.Bucket == "":
		return nil, fmt.Errorf("open media store at %s: no bucket", cfg.Endpoint)
	case cfg.SpoolDir == "":
		return nil, fmt.Errorf("open media store %s: no spool directory", where)
	}
	creds, err := s3Credentials(cfg)
	if err != nil {
		return nil, fmt.Errorf("open media store %s: %w", where, err)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     creds,
		Secure:    cfg.UseSSL,
		Region:    cfg.Region,
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("open media store %s: %w", where, err)
	}
	ctx, cancel := context.WithTimeout(ctx, metaTimeout)
	defer cancel()
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusForbidden || r.Code == "AccessDenied" {
		return nil, fmt.Errorf("open media store %s: it refuses the credentials: %w", where, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open media store %s: cannot reach it: %w", where, err)
	}
	if !ok {
		return nil, fmt.Errorf("open media store %s: no such bucket", where)
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("open media store %s: %w", where, err)
	}
	if err := cleanTemps(cfg.SpoolDir); err != nil {
		return nil, fmt.Errorf("open media store %s: %w", where, err)
	}
	return &S3{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket,
		prefix: cfg.Prefix, spool: cfg.SpoolDir, where: where, held: holds{}}, nil
}

// s3Credentials are the configured keys or, when none are, the
// environment's.
func s3Credentials(cfg S3Config) (*credentials.Credentials, error) {
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		if cfg.AccessKey == "" || cfg.SecretKey == "" {
			return nil, errors.New("access_key and secret_key go together")
		}
		return credentials.NewStaticV4(cfg.AccessKey, string(cfg.SecretKey), ""), nil
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, errors.New("no credentials: set access_key and secret_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	return credentials.NewStaticV4(id, secret, os.Getenv("AWS_SESSION_TOKEN")), nil
}

// String names the bucket, never the credentials.
func (s *S3) String() string { return s.where }

func (s *S3) object(key string) string { return s.prefix + key }

// Put streams r into the store and returns the blob's key and size. More
// than max bytes (max > 0) is storage.ErrBlobTooLarge and stores nothing.
func (s *S3) Put(r io.Reader, max int64) (storage.Blob, error) {
	return s.write(r, max, "", false)
}

// PutHeld stores r as Put does and holds the blob against removal until
// release is called.
func (s *S3) PutHeld(r io.Reader, max int64) (storage.Blob, func(), error) {
	b, err := s.write(r, max, "", true)
	if err != nil {
		return b, nil, err
	}
	var once sync.Once
	return b, func() { once.Do(func() { s.release(b.Key) }) }, nil
}

// PutKey stores the bytes of a blob whose key is known and stores nothing
// if they hash to anything else (storage.ErrBlobMismatch).
func (s *S3) PutKey(r io.Reader, max int64, key string) (storage.Blob, error) {
	if !storage.ValidBlobKey(key) {
		return storage.Blob{}, fmt.Errorf("store blob %q: not a SHA-256 key", key)
	}
	return s.write(r, max, key, false)
}

func (s *S3) write(r io.Reader, max int64, want string, hold bool) (storage.Blob, error) {
	tmp, key, n, err := spool(s.spool, r, max)
	if err != nil {
		return storage.Blob{}, err
	}
	defer os.Remove(tmp)
	if want != "" && key != want {
		return storage.Blob{}, mismatch(want, key)
	}
	if err := s.upload(tmp, key, n, hold); err != nil {
		return storage.Blob{}, err
	}
	return storage.Blob{Key: key, Size: n}, nil
}

// Adopt uploads a finished file (a recording) and removes it. sum is its
// SHA-256 as its writer computed it; the file is hashed again when sum is
// not a valid key.
func (s *S3) Adopt(path, sum string) (storage.Blob, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return storage.Blob{}, fmt.Errorf("adopt %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return storage.Blob{}, fmt.Errorf("adopt %s: not a regular file", path)
	}
	if !storage.ValidBlobKey(sum) {
		if sum, err = hashFile(path); err != nil {
			return storage.Blob{}, fmt.Errorf("adopt %s: %w", path, err)
		}
	}
	if err := s.upload(path, sum, fi.Size(), false); err != nil {
		return storage.Blob{}, fmt.Errorf("adopt %s: %w", path, err)
	}
	_ = os.Remove(path)
	return storage.Blob{Key: sum, Size: fi.Size()}, nil
}

// upload puts the n bytes of file path under key, holding the key
// meanwhile, and on after it when hold is set. The bytes always go up,
// even when the key is stored: the object's time then counts from the
// latest write, for the sweep's grace period, and a removal that took the
// object just before the hold never leaves the writer without it.
func (s *S3) upload(path, key string, n int64, hold bool) error {
	s.mu.Lock()
	s.held.add(key)
	s.mu.Unlock()
	info, err := s.client.FPutObject(context.Background(), s.bucket, s.object(key), path, minio.PutObjectOptions{
		ContentType:    "application/octet-stream",
		UserMetadata:   map[string]string{metaSHA256: key},
		SendContentMd5: true, // the store checks each part's bytes
	})
	if err == nil && info.Size != n {
		err = fmt.Errorf("the store took %d of %d bytes", info.Size, n)
	}
	if err != nil || !hold {
		s.release(key)
	}
	if err != nil {
		return fmt.Errorf("store blob %s in %s: %w", key, s.where, err)
	}
	return nil
}

func (s *S3) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held.drop(key)
}

// Open opens a blob for reading. Its bytes are fetched as they are read:
// reads in order stream one response, a read elsewhere (a seek) asks for
// the range from there on. An object whose recorded SHA-256 is not its
// key's is storage.ErrBlobMismatch.
func (s *S3) Open(key string) (Object, error) {
	if !storage.ValidBlobKey(key) {
		return nil, fmt.Errorf("open blob %q: not a SHA-256 key", key)
	}
	info, err := s.stat(key)
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	if sum, ok := info.UserMetadata[metaSHA256]; ok && sum != key {
		return nil, fmt.Errorf("open blob %s: %w (the object records %s)", key, storage.ErrBlobMismatch, sum)
	}
	return &s3Object{s: s, key: key, size: info.Size}, nil
}

// stat asks for an object's metadata; a missing object is
// os.ErrNotExist.
func (s *S3) stat(key string) (minio.ObjectInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), metaTimeout)
	defer cancel()
	info, err := s.client.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
	if notFound(err) {
		return info, fmt.Errorf("%w in %s", os.ErrNotExist, s.where)
	}
	if err != nil {
		return info, fmt.Errorf("%s: %w", s.where, err)
	}
	return info, nil
}

func notFound(err error) bool {
	if err == nil {
		return false
	}
	r := minio.ToErrorResponse(err)
	return r.StatusCode == http.StatusNotFound || r.Code == minio.NoSuchKey || r.Code == "NotFound"
}

// Has reports whether blob key is stored.
func (s *S3) Has(key string) bool {
	if !storage.ValidBlobKey(key) {
		return false
	}
	_, err := s.stat(key)
	return err == nil
}

// Remove removes blob key unless it is held by a writer or live says a
// live row still refers to it, and reports whether it removed it. A blob
// not stored is not an error (removed false). live runs under the store's
// lock, so no writer takes its hold between it and the removal.
func (s *S3) Remove(key string, live func(key string) (bool, error)) (bool, error) {
	if !storage.ValidBlobKey(key) {
		return false, fmt.Errorf("remove blob %q: not a SHA-256 key", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[key] > 0 {
		return false, nil
	}
	if _, err := s.stat(key); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("remove blob %s: %w", key, err)
	}
	inUse, err := live(key)
	if err != nil || inUse {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), metaTimeout)
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.bucket, s.object(key), minio.RemoveObjectOptions{}); err != nil {
		return false, fmt.Errorf("remove blob %s from %s: %w", key, s.where, err)
	}
	return true, nil
}

// Keys lists the keys of the stored blobs last written before before
// (objects under the prefix with other names left out), for a sweep.
func (s *S3) Keys(before time.Time) ([]string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out []string
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list media store %s: %w", s.where, obj.Err)
		}
		key, ok := strings.CutPrefix(obj.Key, s.prefix)
		if ok && storage.ValidBlobKey(key) && obj.LastModified.Before(before) {
			out = append(out, key)
		}
	}
	return out, nil
}

// s3Object reads an object's bytes at any offset. Each response asks for
// a window of bytes from the offset read; reads in order (a download, a
// range a player asked for) go on in it, and each next window is twice
// the last, up to maxWindow, so that a long read is few requests and a
// short one (a chunk a node asked for) leaves little unread on the wire.
// A read elsewhere asks anew from its offset.
type s3Object struct {
	s    *S3
	key  string
	size int64

	mu     sync.Mutex
	body   io.ReadCloser // nil: none open
	pos    int64         // offset of body's next byte
	end    int64         // offset past body's last byte
	window int64         // size of the last window asked for
}

// Windows of a read: the first at least minWindow, doubling up to
// maxWindow while reads go on in order.
const (
	minWindow = 1 << 20
	maxWindow = 64 << 20
)

func (o *s3Object) Size() int64 { return o.size }

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read blob %s: negative offset %d", o.key, off)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	want := min(int64(len(p)), o.size-off)
	n := 0
	for int64(n) < want {
		at := off + int64(n)
		if o.body == nil || o.pos != at || o.pos >= o.end {
			if err := o.reopen(at, want-int64(n)); err != nil {
				return n, err
			}
		}
		m, err := io.ReadFull(o.body, p[n:n+int(min(want-int64(n), o.end-o.pos))])
		n += m
		o.pos += int64(m)
		if err != nil {
			o.closeBody()
			return n, fmt.Errorf("read blob %s at %d of %d bytes from %s: %w", o.key, at, o.size, o.s.where, err)
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// reopen asks for the object's bytes from off on: at least need of them,
// a window twice the last when the read goes on where the last ended.
func (o *s3Object) reopen(off, need int64) error {
	window := int64(minWindow)
	if o.body != nil && o.pos == off {
		window = min(2*o.window, maxWindow)
	}
	o.closeBody()
	window = max(window, need)
	end := min(off+window, o.size)
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, end-1); err != nil {
		return err
	}
	body, _, _, err := o.s.core.GetObject(context.Background(), o.s.bucket, o.s.object(o.key), opts)
	if notFound(err) {
		return fmt.Errorf("read blob %s: %w in %s", o.key, os.ErrNotExist, o.s.where)
	}
	if err != nil {
		return fmt.Errorf("read blob %s from %s: %w", o.key, o.s.where, err)
	}
	o.body, o.pos, o.end, o.window = body, off, end, window
	return nil
}

func (o *s3Object) closeBody() {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
}

func (o *s3Object) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closeBody()
	return nil
}
