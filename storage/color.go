package storage

// ValidColor reports whether c is a colour of the form #rrggbb, in either
// case: the form of LabelGroup.Color and of a drawn stroke's colour.
func ValidColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}
