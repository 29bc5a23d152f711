package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// The session page: one session's people, timeline (chat and events),
// snapshots, files and recordings, as its history holds them.

func (s *Server) sessionPageRoutes() []route {
	return []route{
		{method: "GET", path: "/sessions/:id", perm: policy.CallLogs, page: true,
			summary: "Session summary: participants, chat and events, snapshots, files and recordings", handler: s.uiSession},
	}
}

type sessionPageData struct {
	Session      sessionOut
	Duration     string
	Participants []participantRow
	Timeline     []timelineItem
	Snapshots    []mediaItem
	Files        []mediaItem
	Recordings   []recordingItem
	Chats        int
	Annotations  int
	// CanDownload: the bytes of media may be fetched (participants always
	// may; others need download-media).
	CanDownload bool
	// Reports are the session's service reports, for a reader of them;
	// CanReport offers to write one.
	Reports   []storage.ServiceReport
	ReportsOn bool
	CanReport bool
	// PDF offers the session's PDF report.
	PDF bool
	// Fields are what was given the session after the call, with the
	// organisation's labels (checked when the session has them) and the
	// outcomes to choose from, for the form that changes them: the
	// organisation's, and the session's own if its list no longer has it.
	Fields      storage.SessionSummary
	FieldLabels []labelChoice
	Outcomes    []storage.OutcomeDef
	FieldsOn    bool
}

type labelChoice struct {
	historyLabel
	Checked bool
}

type participantRow struct {
	storage.SessionParticipant
	Stayed string
}

type timelineItem struct {
	At   time.Time
	Kind string // css modifier: chat | join | leave | media | record | end | other
	Who  string
	Text string
	Link string // media to open
}

type mediaItem struct {
	storage.Media
	URL      string
	By, Of   string
	HumanLen string
}

type recordingItem struct {
	storage.Recording
	URL      string
	Who      string
	Length   string
	HumanLen string
}

func (s *Server) uiSession(c *fiber.Ctx) error { return s.showSession(c, fiber.StatusOK, &formState{}) }

func (s *Server) showSession(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	d, err := s.deps.Media.SessionDetail(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	page := sessionPageData{Session: sessionOut{Session: d.Session, SiteName: d.Session.SiteID}}
	if st, err := s.deps.Org.Site(c.UserContext(), a.OrgID, d.Session.SiteID); err == nil {
		page.Session.SiteName = st.Name
	}
	if d.Session.EndedAt != nil {
		page.Duration = humanDuration(d.Session.EndedAt.Sub(d.Session.StartedAt))
	}
	names := map[string]string{}
	for _, p := range d.Participants {
		names[p.ID] = p.DisplayName
		row := participantRow{SessionParticipant: p}
		if p.LeftAt != nil {
			row.Stayed = humanDuration(p.LeftAt.Sub(p.JoinedAt))
		}
		if a.UserID == p.UserID {
			page.CanDownload = true
		}
		page.Participants = append(page.Participants, row)
	}
	page.CanDownload = page.CanDownload || a.CallID == d.Session.ID || d.Session.CreatedBy == a.UserID || s.can(a, policy.DownloadMedia)
	for _, m := range d.Media {
		item := mediaItem{Media: m, URL: MediaURL(m.ID), By: names[m.Participant], Of: names[m.Of], HumanLen: byteSize64(m.Size)}
		if m.Kind == storage.MediaSnapshot {
			page.Snapshots = append(page.Snapshots, item)
		} else {
			page.Files = append(page.Files, item)
		}
	}
	for _, r := range d.Recordings {
		page.Recordings = append(page.Recordings, recordingItem{Recording: r, URL: RecordingURL(r.ID), Who: names[r.Participant],
			Length: humanDuration(time.Duration(r.DurationMS) * time.Millisecond), HumanLen: byteSize64(r.Size)})
	}
	for _, ev := range d.Events {
		switch ev.Kind {
		case storage.EventChat:
			page.Chats++
		case storage.EventAnnotation:
			page.Annotations++
			continue // strokes are shown on their snapshot, not one by one
		}
		page.Timeline = append(page.Timeline, timelineOf(ev, names))
	}
	page.PDF = s.deps.Reports != nil && s.deps.Calls != nil
	if s.deps.Reports != nil && s.can(a, policy.ReadServiceReports) {
		page.ReportsOn = true
		if page.Reports, err = s.deps.Reports.SessionReports(c.UserContext(), a, d.Session.ID); err != nil {
			return err
		}
		page.CanReport = s.can(a, policy.CreateServiceReport)
	}
	if s.deps.Reports != nil {
		if err := s.sessionFields(c, &page, f); err != nil {
			return err
		}
	}
	title := d.Session.Name
	if title == "" {
		title = "Untitled call"
	}
	v := s.view(c, title, "sessions")
	v.Form = f
	v.Data = page
	return s.ui.render(c, status, "session", v)
}

// timelineOf words one event for the timeline.
func timelineOf(ev storage.SessionEvent, names map[string]string) timelineItem {
	var p map[string]any
	_ = json.Unmarshal(ev.Payload, &p)
	str := func(k string) string { v, _ := p[k].(string); return v }
	who := str("name")
	if who == "" {
		who = names[str("participant")]
	}
	if who == "" {
		who = "Someone"
	}
	it := timelineItem{At: ev.At, Who: who}
	switch ev.Kind {
	case storage.EventJoined:
		it.Kind, it.Text = "join", "joined the call"
		if d := str("device"); d != "" {
			it.Text += " (" + strings.ToUpper(d) + ")"
		}
	case storage.EventLeft:
		it.Kind, it.Text = "leave", "left the call"
	case storage.EventChat:
		it.Kind, it.Text = "chat", str("text")
	case storage.EventSnapshot:
		it.Kind, it.Text, it.Link = "media", "took a snapshot", MediaURL(str("media"))
		if of := names[str("of")]; of != "" {
			it.Text += " of " + of + "'s video"
		}
	case storage.EventFile:
		it.Kind, it.Text, it.Link = "media", "shared "+str("file_name"), MediaURL(str("media"))
	case storage.EventRecording:
		it.Kind, it.Text = "record", "recording saved: "+str("file_name")
	case storage.EventEnded:
		it.Kind, it.Text = "end", "ended the call"
	case storage.EventRecordingStarted:
		it.Kind, it.Text = "record", "started recording"
	case storage.EventRecordingStopped:
		it.Kind, it.Text = "record", "stopped recording"
	default:
		it.Kind, it.Text = "other", strings.ReplaceAll(ev.Kind, "_", " ")
	}
	return it
}

// humanDuration writes 1 h 04 min, 3 min 12 s, 45 s.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}

func byteSize64(n int64) string { return byteSize(int(n)) }

// sessionFields fills the page's fields panel: as stored, or as typed
// into the form that failed.
func (s *Server) sessionFields(c *fiber.Ctx, page *sessionPageData, f *formState) error {
	a, _ := actorOf(c)
	fields, err := s.deps.Reports.SessionFields(c.UserContext(), a, page.Session.ID)
	var denied *storage.ForbiddenError
	if errors.As(err, &denied) || errors.Is(err, storage.ErrNotFound) {
		return nil // the page shows what the media rules let through; no panel
	}
	if err != nil {
		return err
	}
	names, err := s.historyNames(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	h, err := s.deps.Org.HistorySettings(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	page.Outcomes = withOutcome(h, fields.Outcome)
	checked := fields.Labels
	if f.Is("fields") {
		fields.Name, fields.Goal = f.V("name"), f.V("goal")
		fields.Outcome, fields.Notes = f.V("outcome"), f.V("notes")
		checked = f.All("labels")
	}
	page.FieldsOn, page.Fields = true, fields
	for _, l := range names.labels {
		page.FieldLabels = append(page.FieldLabels, labelChoice{historyLabel: l, Checked: slices.Contains(checked, l.ID)})
	}
	slices.SortFunc(page.FieldLabels, func(x, y labelChoice) int { return strings.Compare(x.Name, y.Name) })
	return nil
}

func (s *Server) uiSetSessionFields(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	f := readForm(c, "fields", "name", "goal", "outcome", "notes", "labels")
	name, goal, outcome, notes := f.V("name"), f.V("goal"), f.V("outcome"), f.V("notes")
	labels := f.All("labels")
	if labels == nil {
		labels = []string{}
	}
	in := SessionFieldsInput{Name: &name, Goal: &goal, Outcome: &outcome, Notes: &notes, Labels: &labels}
	id := param(c, "id")
	if _, err := s.deps.Reports.SetSessionFields(c.UserContext(), a, id, in); err != nil {
		return failed(c, f, err, s.showSession)
	}
	return done(c, "/sessions/"+id+"#fields", "Session saved.")
}

// withOutcome is the organisation's outcomes, and key shown by itself
// after them when the list no longer has it (a session given it before).
func withOutcome(h storage.HistorySettings, key string) []storage.OutcomeDef {
	out := slices.Clone(h.Outcomes)
	if _, ok := h.Outcome(key); key != "" && !ok {
		out = append(out, storage.OutcomeDef{Key: key, Name: key})
	}
	return out
}
