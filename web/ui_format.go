package web

import (
	"html/template"
	"siteline/storage"
	"strconv"
	"strings"
	"time"
)

// Formatting helpers of the page templates.

func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			out = append(out, r)
			break
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return strings.ToUpper(string(out))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2 Jan 2006 15:04")
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return formatTime(*t)
}

// normColor returns a #rrggbb colour, or a neutral grey for anything else.
func normColor(c string) string {
	c = strings.TrimSpace(c)
	if len(c) == 4 && c[0] == '#' {
		c = "#" + strings.Repeat(c[1:2], 2) + strings.Repeat(c[2:3], 2) + strings.Repeat(c[3:4], 2)
	}
	if !storage.ValidColor(c) {
		return "#64748b"
	}
	return strings.ToLower(c)
}

// chipStyle colours a label chip with its group's colour and a readable
// text colour on it.
func chipStyle(color string) template.CSS {
	c := normColor(color)
	r, _ := strconv.ParseUint(c[1:3], 16, 8)
	g, _ := strconv.ParseUint(c[3:5], 16, 8)
	b, _ := strconv.ParseUint(c[5:7], 16, 8)
	fg := "#ffffff"
	if 0.299*float64(r)+0.587*float64(g)+0.114*float64(b) > 160 {
		fg = "#111827"
	}
	// c is validated above: only # and hex digits reach the style.
	return template.CSS("--chip:" + c + ";--chip-fg:" + fg)
}

// roleClass picks a badge colour for a role name.
func roleClass(role string) string {
	switch role {
	case "administrator":
		return "badge-admin"
	case "regular":
		return "badge-regular"
	case "team_member", "team_lead", "team_manager", "member", "lead", "manager":
		return "badge-team"
	case "guest_app", "guest_mobile", "guest_desktop":
		return "badge-guest"
	}
	return "badge-neutral"
}
