package storage

import "testing"

func TestValidColor(t *testing.T) {
	for c, want := range map[string]bool{
		"#1a2b3c":  true,
		"#A0B1C2":  true,
		"#000000":  true,
		"":         false,
		"1a2b3c":   false,
		"#1a2b3":   false,
		"#1a2b3c4": false,
		"#1a2b3g":  false,
		"#fff":     false,
		" #1a2b3c": false,
		"#1a2b3ç":  false,
	} {
		if got := ValidColor(c); got != want {
			t.Errorf("ValidColor(%q) = %v, want %v", c, got, want)
		}
	}
}
