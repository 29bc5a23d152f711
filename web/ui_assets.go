package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The backoffice's embedded files: templates, and static files served
// under names carrying their content hash.

// uiFiles holds the backoffice templates and static files. It is read-only;
// everything derived from it (parsed templates, versioned asset names) is
// computed by newPages and assetTable and held by their callers.
//
//go:embed ui/templates/*.html ui/static/*
var uiFiles embed.FS

const (
	templateDir = "ui/templates"
	staticDir   = "ui/static"
	// layoutFile holds the shared layout, the public shell and the icons;
	// every other template file is one page.
	layoutFile = "layout.html"
)

// asset is one static file, served under a name carrying its content hash so
// that browsers may cache it for a year.
type asset struct {
	name      string // "app.css"
	versioned string // "/static/app.3f2a1c9b.css"
	ctype     string
}

// assetTable reads the embedded static files and names each by its hash.
// The bodies are not kept: served with a year's caching, each file is
// read from the binary again when a browser asks for it.
func assetTable() (map[string]asset, error) {
	entries, err := fs.ReadDir(uiFiles, staticDir)
	if err != nil {
		return nil, fmt.Errorf("read static files: %w", err)
	}
	out := make(map[string]asset, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := uiFiles.ReadFile(path.Join(staticDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read static file %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		ctype := staticType(ext)
		out[e.Name()] = asset{
			name:      e.Name(),
			versioned: "/static/" + strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:4]) + ext,
			ctype:     ctype,
		}
	}
	return out, nil
}

// staticType is the content type of a static file by its extension: a
// list of its own rather than the host's mime.types, which the mime
// package would read into tables the node then keeps (0.4 MB).
func staticType(ext string) string {
	switch ext {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".json":
		return "application/json"
	case ".png":
		return "image/png"
	case ".woff2":
		return "font/woff2"
	}
	return "application/octet-stream"
}

// mountStatic serves the static files at their versioned names with long
// cache headers, and the favicon at /favicon.ico.
func mountStatic(app *fiber.App, assets map[string]asset) {
	for _, a := range assets {
		app.Get(a.versioned, serveAsset(a, "public, max-age=31536000, immutable"))
	}
	if fav, ok := assets["favicon.svg"]; ok {
		app.Get("/favicon.ico", serveAsset(fav, "public, max-age=86400"))
	}
}

func serveAsset(a asset, cacheControl string) fiber.Handler {
	etag := `"` + strings.TrimSuffix(path.Base(a.versioned), path.Ext(a.versioned)) + `"`
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, cacheControl)
		c.Set(fiber.HeaderETag, etag)
		if c.Get(fiber.HeaderIfNoneMatch) == etag {
			return c.SendStatus(fiber.StatusNotModified)
		}
		body, err := uiFiles.ReadFile(path.Join(staticDir, a.name))
		if err != nil {
			return fmt.Errorf("serve static file %s: %w", a.name, err)
		}
		c.Set(fiber.HeaderContentType, a.ctype)
		return c.Send(body)
	}
}
