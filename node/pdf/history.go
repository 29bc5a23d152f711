package pdf

import (
	"encoding/json"
	"strings"
	"time"

	"siteline/storage"
	"siteline/storage/annotation"
)

// History is what the store holds of one session, with the names the
// records give only as ids. The caller reads it (and checks that the
// reader may see it); FromHistory only words it.
type History struct {
	Organisation string
	// Site is the site's name; Owner the name of who started the session.
	Site  string
	Owner string

	Session      storage.Session
	Participants []storage.SessionParticipant
	// Events are the session's events in order (SessionEvents).
	Events []storage.SessionEvent
	// Media are the session's snapshots and files (SessionMedia); files
	// appear in the timeline only.
	Media []storage.Media
	// Images holds the bytes of the snapshots, by media id. A snapshot
	// whose bytes are missing prints a note in their place.
	Images map[string][]byte
	// Roles names each user's role, by user id.
	Roles map[string]string

	Labels []Label
	Report *ServiceReport
	// Outcome, TimeToSolve and Notes are the session's, where kept.
	Outcome     string
	TimeToSolve time.Duration
	Notes       string

	Generated time.Time
	Location  *time.Location
}

// FromHistory builds a report's Summary from a session's records: the
// participants with their kinds and roles, the timeline and the chat from
// the events, and each snapshot with the strokes drawn on it live.
func FromHistory(h History) Summary {
	s := h.Session
	sum := Summary{
		Organisation: h.Organisation,
		Session: Session{
			ID: s.ID, Name: s.Name, Goal: s.Goal, Site: h.Site, Owner: h.Owner,
			Kind: words(s.Kind), Status: words(s.Status), Start: s.StartedAt,
			Outcome: h.Outcome, TimeToSolve: h.TimeToSolve, Notes: h.Notes,
		},
		Labels:    h.Labels,
		Report:    h.Report,
		Generated: h.Generated,
		Location:  h.Location,
	}
	if s.EndedAt != nil {
		sum.Session.End = *s.EndedAt
	}
	if sum.Session.Site == "" {
		sum.Session.Site = s.SiteID
	}

	names := map[string]string{} // participant id → display name
	for _, p := range h.Participants {
		names[p.ID] = p.DisplayName
		pt := Participant{Name: p.DisplayName, Role: h.Roles[p.UserID], Kind: kindOf(p.UserKind),
			Device: p.DeviceKind, Joined: p.JoinedAt}
		if p.Hidden {
			pt.Kind += " (hidden)"
		}
		if p.LeftAt != nil {
			pt.Left = *p.LeftAt
		}
		sum.Participants = append(sum.Participants, pt)
	}

	drawn := annotation.Drawn(h.Events) // media id → strokes drawn live on it
	for _, ev := range h.Events {
		var p eventPayload
		_ = json.Unmarshal(ev.Payload, &p) // a payload that does not decode leaves the words plain
		who := p.Name
		if who == "" {
			who = names[p.Participant]
		}
		switch ev.Kind {
		case storage.EventChat:
			sum.Chat = append(sum.Chat, ChatLine{At: ev.At, Who: who, Text: p.Text})
			continue
		case storage.EventAnnotation:
			continue // drawn on their snapshot
		}
		sum.Events = append(sum.Events, Event{At: ev.At, Who: who, Text: eventText(ev.Kind, p, names)})
	}

	for _, m := range h.Media {
		if m.Kind != storage.MediaSnapshot {
			continue
		}
		snap := Snapshot{Title: m.Name, At: m.CreatedAt, By: names[m.Participant], Of: names[m.Of],
			Image: h.Images[m.ID], Strokes: drawn[m.ID]}
		// A saved annotated copy holds its drawing in its pixels.
		if len(m.Annotations) > 0 {
			snap.Note = "saved with its drawing"
		}
		if snap.Image == nil {
			snap.Note = strings.TrimPrefix(snap.Note+"; its image is not on this node", "; ")
		}
		sum.Snapshots = append(sum.Snapshots, snap)
	}
	return sum
}

// eventPayload holds the fields the call service writes into events.
type eventPayload struct {
	Participant string `json:"participant"`
	Name        string `json:"name"`
	Text        string `json:"text"`
	Device      string `json:"device"`
	Media       string `json:"media"`
	Of          string `json:"of"`
	FileName    string `json:"file_name"`
	Reason      string `json:"reason"`
}

// eventText words an event for the timeline, as the session page does.
func eventText(kind string, p eventPayload, names map[string]string) string {
	switch kind {
	case storage.EventJoined:
		if p.Device != "" {
			return "joined the call (" + p.Device + ")"
		}
		return "joined the call"
	case storage.EventLeft:
		return "left the call"
	case storage.EventSnapshot:
		if of := names[p.Of]; of != "" {
			return "took a snapshot of " + of + "'s video"
		}
		return "took a snapshot"
	case storage.EventFile:
		return "shared " + p.FileName
	case storage.EventRecording:
		return "recording saved: " + p.FileName
	case storage.EventRecordingStarted:
		return "started recording"
	case storage.EventRecordingStopped:
		return "stopped recording"
	case storage.EventEnded:
		if p.Reason != "" {
			return "the call ended: " + p.Reason
		}
		return "ended the call"
	}
	return words(kind)
}

// kindOf words a user kind.
func kindOf(k storage.UserKind) string {
	switch k {
	case storage.UserRegular:
		return "Registered user"
	case storage.UserGuestApp:
		return "Guest (app)"
	case storage.UserGuestMobile:
		return "Guest (mobile browser)"
	case storage.UserGuestDesktop:
		return "Guest (desktop browser)"
	}
	return words(string(k))
}

// words turns an identifier into words: service_request → Service request.
func words(id string) string {
	s := strings.ReplaceAll(id, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
