// Package pdf writes a session's history as a PDF that headquarters can
// file, print and search: the organisation and the session, its labels and
// notes, who took part, the timeline, the chat, every snapshot with its
// drawing, and the service report.
//
// Render takes a Summary, plain data with no tie to the store; FromHistory
// builds one from the store's records of a session. Text is set in the Go
// fonts (embedded, so Latin, Greek and Cyrillic names print as written) and
// stays real text in the file; drawings on snapshots are vector strokes
// over the image, in their colours.
package pdf

import (
	"time"

	"siteline/storage/annotation"
)

// Summary is everything a report shows. Empty parts are left out of the
// report, except the participants and the chat, which say they are empty.
type Summary struct {
	// Organisation is the organisation's name, printed on every page.
	Organisation string
	Session      Session
	// Labels tag the session, each in its colour.
	Labels       []Label
	Participants []Participant
	// Events is the timeline (joins, leaves, media, recordings, the end),
	// in order; the chat has its own section.
	Events    []Event
	Chat      []ChatLine
	Snapshots []Snapshot
	// Report is the service report written after the call, if any.
	Report *ServiceReport
	// Generated is when the report was made, printed in its footer; zero
	// leaves it out.
	Generated time.Time
	// Location is the time zone times are printed in; nil means UTC.
	Location *time.Location
}

// Session is the call itself.
type Session struct {
	ID   string
	Name string
	Goal string
	Site string
	// Owner is who started the session.
	Owner string
	// Kind and Status as words: "Service request", "Ended".
	Kind   string
	Status string
	Start  time.Time
	// End is zero while the session runs.
	End time.Time
	// Outcome says how the session ended ("Solved remotely").
	Outcome string
	// TimeToSolve is how long solving took; zero leaves it out.
	TimeToSolve time.Duration
	Notes       string
}

// Label is one label on the session; Color is #rrggbb (other values print
// grey).
type Label struct {
	Name  string
	Group string
	Color string
}

// Participant is one connection to the call, from join to leave.
type Participant struct {
	Name string
	Role string
	// Kind is "Registered user" or the kind of guest ("Guest (browser)").
	Kind string
	// Device is the kind of device ("desktop", "mobile", "glasses").
	Device string
	Joined time.Time
	// Left is zero for someone still in the call.
	Left time.Time
}

// Event is one line of the timeline: who did what.
type Event struct {
	At   time.Time
	Who  string
	Text string
}

// ChatLine is one chat message.
type ChatLine struct {
	At   time.Time
	Who  string
	Text string
}

// Snapshot is a frozen frame with the strokes drawn on it.
type Snapshot struct {
	Title string
	At    time.Time
	// By took the snapshot; Of is whose video it shows.
	By string
	Of string
	// Image holds the bytes: JPEG, PNG, GIF, WebP or BMP. Bytes that do
	// not decode print as a note in the image's place.
	Image []byte
	// Strokes are drawn over the image in order; a Clear stroke wipes
	// those before it, as it does in the call.
	Strokes []Stroke
	// Note is printed under the caption ("saved with its drawing").
	Note string
}

// Stroke is one drawing on a snapshot, as the call page sends it.
type Stroke = annotation.Stroke

// ServiceReport is the report written after the call.
type ServiceReport struct {
	Title   string
	Author  string
	Written time.Time
	// Fields are the report's named values, in order.
	Fields []Field
	// Text is the free text.
	Text string
}

// Field is a named value of a service report.
type Field struct {
	Name  string
	Value string
}
