package policy

import (
	"errors"
	"testing"

	"siteline/storage"
)

func TestParseCheckQuery(t *testing.T) {
	tests := []struct {
		in, user, perm, err string
	}{
		{in: "u1 xa_icall_chat", user: "u1", perm: "xa_icall_chat"},
		{in: "can tech@plant.example do xa_icall_chat?", user: "tech@plant.example", perm: "xa_icall_chat"},
		{in: "  CAN u1 DO admin_policies ? ", user: "u1", perm: "admin_policies"},
		{in: "u1 do admin_policies", user: "u1", perm: "admin_policies"},
		{in: "can x", user: "can", perm: "x"},
		{in: "", err: `query "" is not of the form "USER PERMISSION" (or "can USER do PERMISSION?")`},
		{in: "u1", err: `query "u1" is not of the form "USER PERMISSION" (or "can USER do PERMISSION?")`},
		{in: "u1 a b", err: `query "u1 a b" is not of the form "USER PERMISSION" (or "can USER do PERMISSION?")`},
		{in: "u1 a,b", err: `query permission "a,b" contains ','`},
	}
	for _, tt := range tests {
		user, perm, err := ParseCheckQuery(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("ParseCheckQuery(%q) error = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || user != tt.user || perm != tt.perm {
			t.Errorf("ParseCheckQuery(%q) = %q, %q, %v; want %q, %q", tt.in, user, perm, err, tt.user, tt.perm)
		}
	}
}

// FuzzCheckQuery: any input is either refused as invalid or gives a user
// and a permission that are valid policy values and read back the same
// when written as "USER PERMISSION"; and Check on them never panics.
func FuzzCheckQuery(f *testing.F) {
	for _, s := range []string{
		"u1 xa_icall_chat", "can u1 do xa_icall_chat?", "can can do do", "a b??", "a b? ?",
		"u1 xa_ocalLcalllog_call-logs", "\x00 \x01", "can", "a\u00a0b c", "é ü",
	} {
		f.Add(s)
	}
	e, err := NewEnforcer(DefaultPolicy("o1"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		user, perm, err := ParseCheckQuery(in)
		if err != nil {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("error is not ErrInvalid: %v", err)
			}
			return
		}
		if checkToken("user", user) != "" || checkToken("permission", perm) != "" {
			t.Fatalf("accepted bad values %q %q", user, perm)
		}
		u2, p2, err := ParseCheckQuery(user + " " + perm)
		if err != nil || u2 != user || p2 != perm {
			t.Fatalf("%q -> %q %q, but %q -> %q %q, %v", in, user, perm, user+" "+perm, u2, p2, err)
		}
		_, _, _ = e.Explain("o1", user, perm)
		_ = e.Check("o1", user, perm)
	})
}
