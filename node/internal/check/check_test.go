package check

import (
	"errors"
	"strings"
	"testing"

	"siteline/storage"
)

func TestNameChars(t *testing.T) {
	for _, tt := range []struct {
		name, says string // says is "" when the name passes
	}{
		{"Pump 4 – Zürich ✓", ""},
		{"a real \ufffd replacement character", ""},
		{"bad \xff byte", "is not valid UTF-8 (at byte 4)"},
		{"two\nlines", "must be a single line"},
		{"nul\x00", "holds U+0000, a control character, at byte 3"},
		{"c1 \u0085", "a control character"},
		{"exe\u202e.pdf", "holds U+202E, a bidirectional override, at byte 3"},
		{"iso\u2066late", "a bidirectional override"},
	} {
		err := NameChars("name", tt.name)
		if tt.says == "" {
			if err != nil {
				t.Errorf("%q refused: %v", tt.name, err)
			}
			continue
		}
		var ve *storage.ValidationError
		if !errors.As(err, &ve) || ve.Field != "name" || !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%q = %v, want a refusal of name saying %q", tt.name, err, tt.says)
		}
	}
}
