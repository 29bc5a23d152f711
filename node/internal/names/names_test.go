package names

import (
	"errors"
	"strings"
	"testing"

	"siteline/storage"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"Pump 7 – Zürich \ufffd", true},
		{"", true},
		{"two\nlines", false},
		{"nul\x00", false},
		{"c1\u0085", false},
		{"exe\u202efdp.pdf", false},
		{"isolate\u2066", false},
		{"bad \xff byte", false},
	} {
		err := Check("name", tc.in)
		var ve *storage.ValidationError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case !tc.ok && (!errors.As(err, &ve) || ve.Field != "name"):
			t.Errorf("%q: %v, want a validation error on name", tc.in, err)
		}
	}
}

func TestFile(t *testing.T) {
	for _, tc := range []struct{ name, kind, ctype, want string }{
		{`C:\dir\re"port.pdf`, storage.MediaFile, "application/pdf", "report.pdf"},
		{"../../etc/pass\x01wd", storage.MediaFile, "", "passwd"},
		{"  ", storage.MediaSnapshot, "image/png", "Snapshot 2026-01-02 03.04.05.png"},
		{"/", storage.MediaSnapshot, "image/jpeg", "Snapshot 2026-01-02 03.04.05.jpg"},
	} {
		if got := File(tc.name, tc.kind, tc.ctype, "2026-01-02 03.04.05"); got != tc.want {
			t.Errorf("File(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	long := File(strings.Repeat("é", 200)+".webm", storage.MediaFile, "video/webm", "")
	if len(long) > MaxFile || !strings.HasPrefix(long, "éé") || strings.ContainsRune(long, '\ufffd') {
		t.Errorf("long name cut to %d bytes: %q", len(long), long)
	}
}
