package web

import (
	"mime"
	"net/http"
	"strings"
)

// SniffType is the type stored bytes are kept and served as: what their
// first bytes (up to 512) look like, when that is one of the types below,
// else application/octet-stream. What a client says a file is never
// counts: a page, a script or an SVG image is served as bytes to save,
// not as something the browser would run.
func SniffType(head []byte) string {
	sniffed := http.DetectContentType(head)
	mt, _, err := mime.ParseMediaType(sniffed)
	if err != nil {
		return "application/octet-stream"
	}
	switch mt {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
		"video/webm", "video/mp4", "video/avi",
		"audio/mpeg", "audio/wave", "audio/aiff", "audio/basic", "audio/midi", "application/ogg",
		"application/pdf", "application/zip", "application/x-gzip", "application/x-rar-compressed":
		return mt
	case "text/plain":
		return sniffed // with its charset
	}
	return "application/octet-stream"
}

// mayShowInline reports whether bytes of a type SniffType returned may be
// shown by the browser rather than saved: images, videos and PDF.
func mayShowInline(contentType string) bool {
	return strings.HasPrefix(contentType, "image/") || strings.HasPrefix(contentType, "video/") ||
		contentType == "application/pdf"
}
