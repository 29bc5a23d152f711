package web

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Request bodies are streamed: fasthttp reads no more than the first 8 KiB
// of a body before the handlers run. readBody then reads the body of every
// route into memory, up to http.body_limit, except the media upload's,
// which only its handler reads, once the caller is authenticated and
// allowed, straight into the blob store (up to media.max_upload). A body
// whose Content-Length is over its route's limit is refused from the
// headers alone.
const (
	// uploadReadTimeout is how long an upload may take to arrive once it
	// is accepted: 50 MiB over a plant's 2 Mbit/s uplink takes over three
	// minutes.
	uploadReadTimeout = 10 * time.Minute
	// blobWriteTimeout is how long a download of media may take; a video
	// element reads a recording at the pace it plays it.
	blobWriteTimeout = 30 * time.Minute
	// drainAfterUpload is how much is read past a stored upload's closing
	// boundary to reuse the connection; more and it is closed.
	drainAfterUpload = 4 << 10
	// drainOverLimit is how far past its limit a refused body is read and
	// thrown away after the 413 is sent, and drainTimeout for how long, so
	// that a client that writes its whole body before it reads sees the
	// answer rather than a reset connection (net/http's lingering close).
	drainOverLimit = 256 << 10
	drainTimeout   = time.Second
)

// overLimitHeader marks, inside the node, a request whose Content-Length
// is over its route's limit; a client's own copy is removed first.
const overLimitHeader = "X-Siteline-Over-Limit"

// localUploadBody keeps the body of an upload request for its handler.
const localUploadBody = "upload-body"

// requestLimits is fasthttp's HeaderReceived hook. A body announced over
// its route's limit is not read before the answer: the request is marked,
// its length set to nothing, and readBody answers 413 and closes the
// connection (refuseBody).
// Media downloads get time to leave. Nothing here trusts the caller's
// credentials: the upload's longer read timeout is given by its handler,
// after authentication.
func (s *Server) requestLimits(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	h.Del(overLimitHeader)
	path, _, _ := strings.Cut(string(h.RequestURI()), "?")
	method := string(h.Method())
	limit := s.bodyLimit(method, path)
	if n := h.ContentLength(); n > limit {
		h.Set(overLimitHeader, strconv.Itoa(n))
		h.SetContentLength(0)
	}
	cfg := fasthttp.RequestConfig{MaxRequestBodySize: limit}
	if method == fiber.MethodGet && (strings.HasPrefix(path, APIPrefix+"/media/") || strings.HasPrefix(path, APIPrefix+"/recordings/")) {
		cfg.WriteTimeout = blobWriteTimeout
	}
	return cfg
}

// bodyLimit is the largest body of a request: media.max_upload for an
// upload, http.body_limit for any other.
func (s *Server) bodyLimit(method, path string) int {
	if isUpload(method, path) && s.cfg.UploadLimit > 0 {
		return s.cfg.UploadLimit
	}
	return s.cfg.BodyLimit
}

// isUpload reports whether the request is POST /api/v1/calls/<id>/media.
func isUpload(method, path string) bool {
	if method != fiber.MethodPost {
		return false
	}
	rest, ok := strings.CutPrefix(path, APIPrefix+"/calls/")
	if !ok {
		return false
	}
	id, tail, _ := strings.Cut(rest, "/")
	return id != "" && tail == "media"
}

// readBody runs before every other handler. It refuses a body marked over
// its limit, hands an upload's stream to its handler, and reads
// any other body into memory up to http.body_limit, so that the handlers
// see it as fasthttp would have read it. A connection whose body was not
// read to its end is closed after the answer: what is left of the body
// would otherwise be read as the next request.
func (s *Server) readBody(c *fiber.Ctx) error {
	req := c.Request()
	if mark := req.Header.Peek(overLimitHeader); len(mark) > 0 {
		s.refuseBody(c, string(mark))
		return fiber.ErrRequestEntityTooLarge
	}
	if !req.IsBodyStream() {
		return c.Next()
	}
	if isUpload(c.Method(), c.Path()) {
		body := &uploadBody{r: req.BodyStream(), limit: int64(s.bodyLimit(c.Method(), c.Path()))}
		c.Locals(localUploadBody, body)
		err := c.Next()
		if !body.finish(err == nil && c.Response().StatusCode() < 400) {
			c.Response().Header.SetConnectionClose()
		}
		return err
	}
	limit := s.bodyLimit(c.Method(), c.Path())
	data, err := io.ReadAll(io.LimitReader(req.BodyStream(), int64(limit)+1))
	if err != nil {
		c.Response().Header.SetConnectionClose()
		return &Error{Status: fiber.StatusBadRequest, Code: "invalid", Message: "read request body: " + err.Error()}
	}
	if len(data) > limit {
		c.Response().Header.SetConnectionClose()
		return fiber.ErrRequestEntityTooLarge
	}
	req.SetBodyRaw(data)
	return c.Next()
}

// refuseBody closes the connection of a request whose body, announced as
// length bytes, is over its limit and was not read. Up to drainOverLimit
// past the limit, the body is read and thrown away once the answer is
// sent, then the connection is closed; a larger one is not read at all.
func (s *Server) refuseBody(c *fiber.Ctx, length string) {
	n, err := strconv.Atoi(length)
	if err != nil || n > s.bodyLimit(c.Method(), c.Path())+drainOverLimit {
		c.Response().Header.SetConnectionClose()
		return
	}
	// fasthttp sends the answer, calls this, then closes the connection.
	c.Context().Hijack(func(conn net.Conn) {
		_ = conn.SetReadDeadline(time.Now().Add(drainTimeout))
		_, _ = io.CopyN(io.Discard, conn, int64(n))
	})
}

// uploadBody is an upload's request body as its handler reads it: no more
// than limit bytes, whatever the framing says.
type uploadBody struct {
	r     io.Reader
	limit int64
	read  int64
	eof   bool
}

func (b *uploadBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		return n, &Error{Status: fiber.StatusRequestEntityTooLarge, Code: "too_large",
			Message: fmt.Sprintf("upload is larger than the limit of %s (media.max_upload)", byteSize(int(b.limit)))}
	}
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

// finish reports whether the body was read to its end; after a stored
// upload it first reads what little may follow the form's last boundary.
func (b *uploadBody) finish(stored bool) bool {
	if !b.eof && stored {
		_, _ = io.CopyN(io.Discard, b, drainAfterUpload)
	}
	return b.eof
}

// bodyTooLarge explains a 413: which limit the body broke.
func (s *Server) bodyTooLarge(c *fiber.Ctx) string {
	if isUpload(c.Method(), c.Path()) && s.cfg.UploadLimit > 0 {
		return fmt.Sprintf("upload is larger than the limit of %s (media.max_upload)", byteSize(s.cfg.UploadLimit))
	}
	msg := fmt.Sprintf("request body is larger than the limit of %s (http.body_limit)", byteSize(s.cfg.BodyLimit))
	if s.cfg.UploadLimit > s.cfg.BodyLimit {
		msg += fmt.Sprintf("; uploads to %s/calls/:id/media may be up to %s (media.max_upload)", APIPrefix, byteSize(s.cfg.UploadLimit))
	}
	return msg
}

// byteSize writes n bytes the way people read them: 50 MiB, 1.5 KiB.
func byteSize(n int) string {
	switch {
	case n >= 1<<30:
		return trimUnit(float64(n)/(1<<30), "GiB")
	case n >= 1<<20:
		return trimUnit(float64(n)/(1<<20), "MiB")
	case n >= 1<<10:
		return trimUnit(float64(n)/(1<<10), "KiB")
	}
	return fmt.Sprintf("%d bytes", n)
}

func trimUnit(v float64, unit string) string {
	s := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
	return s + " " + unit
}
