package storage

import "testing"

func TestGoalKeyGroupsGoalsByTheirWords(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Inspect boiler B-204", "inspect boiler"},
		{"  inspect   Boiler\tC-118 ", "inspect boiler"},
		{"Replace seal of pump P1", "replace seal of pump"},
		{"Überprüfung Pumpe 3", "überprüfung pumpe"},
		{"4711-A 12", "4711-a 12"}, // nothing but tags: kept whole
		{"", ""},
		{" \t ", ""},
	} {
		if got := GoalKey(c.in); got != c.want {
			t.Errorf("GoalKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
