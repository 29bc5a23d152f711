package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Request bodies are read by fasthttp before any handler runs, so their
// limit is decided from the request line: http.body_limit for every route
// but the media upload, which may carry up to media.max_upload. An upload
// with a Content-Length is parsed as it arrives, files over 16 MiB going to
// temporary files rather than memory.
const (
	// uploadReadTimeout is how long an upload may take to arrive: 50 MiB
	// over a plant's 2 Mbit/s uplink takes over three minutes.
	uploadReadTimeout = 10 * time.Minute
	// blobWriteTimeout is how long a download of media may take; a video
	// element reads a recording at the pace it plays it.
	blobWriteTimeout = 30 * time.Minute
)

// requestLimits is fasthttp's HeaderReceived hook: the upload route gets
// the upload limit and time to arrive; media downloads get time to leave.
func (s *Server) requestLimits(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	path, _, _ := strings.Cut(string(h.RequestURI()), "?")
	method := string(h.Method())
	credentials := len(h.Peek(fiber.HeaderAuthorization)) > 0 || len(h.Cookie(SessionCookie)) > 0
	if limit := s.uploadLimit(method, path, credentials); limit > 0 {
		return fasthttp.RequestConfig{MaxRequestBodySize: limit, ReadTimeout: uploadReadTimeout}
	}
	if method == fiber.MethodGet && (strings.HasPrefix(path, APIPrefix+"/media/") || strings.HasPrefix(path, APIPrefix+"/recordings/")) {
		return fasthttp.RequestConfig{WriteTimeout: blobWriteTimeout}
	}
	return fasthttp.RequestConfig{}
}

// uploadLimit is the body limit of an upload request, 0 for any other.
// A request without credentials, which can only be refused, gets no more
// than http.body_limit.
func (s *Server) uploadLimit(method, path string, credentials bool) int {
	if method != fiber.MethodPost || !isUploadPath(path) || s.cfg.UploadLimit <= 0 {
		return 0
	}
	if !credentials && s.cfg.UploadLimit > s.cfg.BodyLimit {
		return s.cfg.BodyLimit
	}
	return s.cfg.UploadLimit
}

// isUploadPath reports whether path is /api/v1/calls/<id>/media.
func isUploadPath(path string) bool {
	rest, ok := strings.CutPrefix(path, APIPrefix+"/calls/")
	if !ok {
		return false
	}
	id, tail, _ := strings.Cut(rest, "/")
	return id != "" && tail == "media"
}

// bodyTooLarge explains a 413 from fasthttp: which limit the body broke.
func (s *Server) bodyTooLarge(c *fiber.Ctx) string {
	credentials := c.Get(fiber.HeaderAuthorization) != "" || c.Cookies(SessionCookie) != ""
	if limit := s.uploadLimit(c.Method(), c.Path(), credentials); limit > 0 && limit == s.cfg.UploadLimit {
		return fmt.Sprintf("upload is larger than the limit of %s (media.max_upload)", byteSize(limit))
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
