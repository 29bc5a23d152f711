package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// blobMeta is what the response says about stored bytes.
type blobMeta struct {
	size        int64
	sha256      string
	name        string
	disposition string // inline | attachment
}

// sendBlob streams b (closed once sent) with its headers: the type its
// first bytes show, from an allow-list (SniffType), whatever was stored
// with it; inline only for an image, a video or a PDF, else an
// attachment; nosniff and a sandbox policy; the SHA-256 as ETag; and one
// byte range when the request asks for it (206; 416 when it lies outside
// the bytes). Nothing is read into memory but the first 512 bytes: the
// body is a stream.
func sendBlob(c *fiber.Ctx, b Blob, m blobMeta) error {
	head := make([]byte, 512)
	n, err := b.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		b.Close()
		return fmt.Errorf("read %s: %w", m.name, err)
	}
	ctype := SniffType(head[:n])
	disposition := m.disposition
	if !mayShowInline(ctype) {
		disposition = "attachment"
	}
	etag := `"` + m.sha256 + `"`
	h := &c.Response().Header
	h.Set(fiber.HeaderContentType, ctype)
	h.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// Uploaded bytes never run as this origin's page, even if opened.
	h.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; img-src 'self'; media-src 'self'; sandbox")
	h.Set(fiber.HeaderContentDisposition, contentDisposition(disposition, m.name))
	h.Set(fiber.HeaderETag, etag)
	h.Set(fiber.HeaderCacheControl, "private, max-age=3600")
	h.Set(fiber.HeaderAcceptRanges, "bytes")
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatch(inm, etag) {
		b.Close()
		return c.SendStatus(fiber.StatusNotModified)
	}
	start, length := int64(0), m.size
	status := fiber.StatusOK
	if rng := c.Get(fiber.HeaderRange); rng != "" && (c.Get(fiber.HeaderIfRange) == "" || c.Get(fiber.HeaderIfRange) == etag) {
		s, n, ok, err := parseRange(rng, m.size)
		if err != nil {
			b.Close()
			h.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes */%d", m.size))
			return &Error{Status: fiber.StatusRequestedRangeNotSatisfiable, Code: "range_not_satisfiable", Message: err.Error()}
		}
		if ok {
			start, length, status = s, n, fiber.StatusPartialContent
			h.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", s, s+n-1, m.size))
		}
	}
	c.Status(status)
	c.Response().SetBodyStream(sectionCloser{io.NewSectionReader(b, start, length), b}, int(length))
	return nil
}

// sectionCloser closes the blob once fasthttp has sent the section.
type sectionCloser struct {
	*io.SectionReader
	io.Closer
}

// parseRange reads a Range header of one byte range against size bytes.
// ok is false when the header is to be ignored (another unit, several
// ranges: the whole body is sent); err when the range lies outside.
func parseRange(header string, size int64) (start, length int64, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, nil
	}
	unsatisfiable := fmt.Errorf("range %q is outside the %d bytes", header, size)
	if first == "" { // the last n bytes
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n < 0 {
			return 0, 0, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, unsatisfiable
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	s, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || s < 0 {
		return 0, 0, false, nil
	}
	if s >= size {
		return 0, 0, false, unsatisfiable
	}
	e := size - 1
	if last != "" {
		if e, perr = strconv.ParseInt(last, 10, 64); perr != nil || e < s {
			return 0, 0, false, nil
		}
		e = min(e, size-1)
	}
	return s, e - s + 1, true, nil
}

// etagMatch reports whether an If-None-Match header names etag.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// contentDisposition names the file for the browser's save dialog, with
// the RFC 2231 form for names that are not plain ASCII.
func contentDisposition(disposition, name string) string {
	if name == "" {
		return disposition
	}
	if v := mime.FormatMediaType(disposition, map[string]string{"filename": name}); v != "" {
		return v
	}
	return disposition
}
