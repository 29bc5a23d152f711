package check

import (
	"strings"
	"testing"

	"siteline/storage"
)

func TestFileName(t *testing.T) {
	for _, tc := range []struct{ name, kind, ctype, want string }{
		{`C:\dir\re"port.pdf`, storage.MediaFile, "application/pdf", "report.pdf"},
		{"../../etc/pass\x01wd", storage.MediaFile, "", "passwd"},
		{"  ", storage.MediaSnapshot, "image/png", "Snapshot 2026-01-02 03.04.05.png"},
		{"/", storage.MediaSnapshot, "image/jpeg", "Snapshot 2026-01-02 03.04.05.jpg"},
	} {
		if got := FileName(tc.name, tc.kind, tc.ctype, "2026-01-02 03.04.05"); got != tc.want {
			t.Errorf("FileName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	long := FileName(strings.Repeat("é", 200)+".webm", storage.MediaFile, "video/webm", "")
	if len(long) > MaxFileName || !strings.HasPrefix(long, "éé") || strings.ContainsRune(long, '\ufffd') {
		t.Errorf("long name cut to %d bytes: %q", len(long), long)
	}
}
