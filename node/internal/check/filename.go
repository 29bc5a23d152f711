package check

import (
	"mime"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"siteline/storage"
)

// MaxFileName bounds a stored file name, in bytes.
const MaxFileName = 255

// FileName makes a stored file's name: the client's base name without
// control characters, path separators and quotes, or, when nothing is
// left, a name made of the kind (storage.MediaSnapshot, storage.MediaFile),
// the time at and the content type's extension; at most MaxFileName bytes.
func FileName(name, kind, ctype, at string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' || r == '\\' || r == '"' {
			return -1
		}
		return r
	}, filepath.Base(strings.ReplaceAll(name, "\\", "/")))
	name = strings.TrimSpace(name)
	if name == "." || name == "" {
		name = map[string]string{storage.MediaSnapshot: "Snapshot", storage.MediaFile: "File"}[kind] + " " + at
		if exts, _ := mime.ExtensionsByType(ctype); len(exts) > 0 {
			name += preferredExt(ctype, exts)
		}
	}
	for len(name) > MaxFileName {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

func preferredExt(ctype string, exts []string) string {
	switch ctype {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	}
	return exts[0]
}
