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
	"siteline/storage/annotation"
)

// The session page: one session's people, timeline (chat and events),
// snapshots, files and recordings, as its history holds them.

func (s *Server) sessionPageRoutes() []route {
	return []route{
		{method: "GET", path: "/sessions/:id", perm: policy.CallLogs, page: true,
			summary: "Session summary: participants, chat and events, snapshots, files and recordings", handler: s.uiSession},
		{method: "POST", path: "/sessions/:id/media/:media/delete", perm: policy.DeleteMedia, page: true,
			summary: "Delete a snapshot or file of a session", handler: s.uiDeleteMedia},
		{method: "POST", path: "/sessions/:id/recordings/:recording/delete", perm: policy.DeleteMedia, page: true,
			summary: "Delete a recording of a session", handler: s.uiDeleteRecording},
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
	// Deleted are the media and recordings deleted from the session.
	Deleted     []deletedItem
	Chats       int
	Annotations int
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
	// Role is the part taken in the call: host (who started it), member
	// or guest; Guest how a guest came (app, phone or desktop browser);
	// Device what the participant joined from.
	Role   string
	Guest  string
	Device string
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
	// Delete is its delete button, for a reader who may delete it when it
	// is kept at this node; nil otherwise.
	Delete *deleteButton
	// Drawing is a snapshot's strokes, drawn over it; Strokes counts them.
	Drawing *drawing
	Strokes int
	// Type words a file's type; Preview is how the page shows it: image
	// (a thumbnail, opened full size), pdf (opened in the browser) or ""
	// (downloaded).
	Type    string
	Preview string
}

type recordingItem struct {
	storage.Recording
	URL      string
	Who      string
	Length   string
	HumanLen string
	Delete   *deleteButton
}

// deleteButton is a delete form of the session page.
type deleteButton struct {
	Action, CSRF, What string
}

type deletedItem struct {
	storage.MediaDeletion
	Who string
}

func (s *Server) uiSession(c *fiber.Ctx) error { return s.showSession(c, fiber.StatusOK, &formState{}) }

func (s *Server) showSession(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	d, err := s.deps.Media.SessionDetail(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	title := d.Session.Name
	if title == "" {
		title = "Untitled call"
	}
	v := s.view(c, title, "sessions")
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
		row := participantRow{SessionParticipant: p, Role: roleOf(p, d.Session), Guest: guestKinds[p.UserKind], Device: deviceName(p.DeviceKind)}
		if p.LeftAt != nil {
			row.Stayed = humanDuration(p.LeftAt.Sub(p.JoinedAt))
		}
		if a.UserID == p.UserID {
			page.CanDownload = true
		}
		page.Participants = append(page.Participants, row)
	}
	page.CanDownload = page.CanDownload || a.CallID == d.Session.ID || d.Session.CreatedBy == a.UserID || s.can(a, policy.DownloadMedia)
	drawn := annotation.Drawn(d.Events)
	for _, m := range d.Media {
		item := mediaItem{Media: m, URL: MediaURL(m.ID), By: names[m.Participant], Of: names[m.Of], HumanLen: byteSize64(m.Size)}
		if d.CanDelete && m.Origin == "" {
			item.Delete = &deleteButton{Action: "/sessions/" + d.Session.ID + "/media/" + m.ID + "/delete",
				CSRF: v.CSRF, What: deletedWhat(m.Kind) + " " + m.Name}
		}
		if m.Kind == storage.MediaSnapshot {
			// The strokes it was saved with, then those drawn on it live.
			strokes := annotation.Visible(append(annotation.Saved(m.Annotations), drawn[m.ID]...))
			item.Strokes = len(strokes)
			if len(strokes) > 0 && page.CanDownload {
				w, h := s.imageSize(c.UserContext(), a, m.ID)
				item.Drawing = drawStrokes(strokes, w, h)
			}
			page.Snapshots = append(page.Snapshots, item)
		} else {
			item.Type, item.Preview = fileType(m.ContentType)
			page.Files = append(page.Files, item)
		}
	}
	for _, r := range d.Recordings {
		item := recordingItem{Recording: r, URL: RecordingURL(r.ID), Who: names[r.Participant],
			Length: humanDuration(time.Duration(r.DurationMS) * time.Millisecond), HumanLen: byteSize64(r.Size)}
		if d.CanDelete && r.Origin == "" {
			item.Delete = &deleteButton{Action: "/sessions/" + d.Session.ID + "/recordings/" + r.ID + "/delete",
				CSRF: v.CSRF, What: "the recording " + r.Name}
		}
		page.Recordings = append(page.Recordings, item)
	}
	for _, del := range d.Deleted {
		who := del.ByName
		if who == "" {
			who = del.By
		}
		page.Deleted = append(page.Deleted, deletedItem{MediaDeletion: del, Who: who})
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
			it.Text += " (" + deviceName(d) + ")"
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
	case storage.EventSitIn, storage.EventCoach, storage.EventRevealed, storage.EventTakenOver, storage.EventTransfer:
		it.Kind, it.Text = "other", supervisionText(ev.Kind, p)
		if it.Who == "Someone" {
			it.Who = "A supervisor"
		}
	case storage.EventMediaDeleted:
		it.Kind, it.Text = "other", "deleted "+deletedWhat(str("kind"))
		if n := str("file_name"); n != "" {
			it.Text += " " + n
		}
	default:
		it.Kind, it.Text = "other", strings.ReplaceAll(ev.Kind, "_", " ")
		queueTimeline(&it, ev.Kind, str) // ui_session_queue.go
	}
	return it
}

// supervisionText words a supervision event (SPEC.md section 4).
func supervisionText(kind string, p map[string]any) string {
	leaves, _ := p["member_leaves"].(bool)
	left := ""
	if leaves {
		left = "; the member left the call"
	}
	switch kind {
	case storage.EventSitIn:
		return "sat in on the call, unseen by the guest"
	case storage.EventCoach:
		if on, _ := p["on"].(bool); on {
			return "started coaching the member"
		}
		return "stopped coaching the member"
	case storage.EventRevealed:
		return "revealed themselves to everyone in the call"
	case storage.EventTakenOver:
		return "took the session over" + left
	}
	if team, _ := p["to_team"].(string); team != "" {
		return "transferred the session to a team's queue" + left
	}
	return "transferred the session to another member" + left
}

// deletedWhat words the kind of a deleted media.
func deletedWhat(kind string) string {
	switch kind {
	case storage.MediaSnapshot:
		return "the snapshot"
	case storage.MediaFile:
		return "the file"
	}
	return "the recording"
}

func (s *Server) uiDeleteMedia(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	d, err := s.deps.Media.DeleteMedia(c.UserContext(), a, param(c, "media"))
	if err != nil {
		return err
	}
	return done(c, "/sessions/"+d.SessionID, fmt.Sprintf("Deleted %s %s.", deletedWhat(d.Kind), d.Name))
}

func (s *Server) uiDeleteRecording(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	d, err := s.deps.Media.DeleteRecording(c.UserContext(), a, param(c, "recording"))
	if err != nil {
		return err
	}
	return done(c, "/sessions/"+d.SessionID, fmt.Sprintf("Deleted %s %s.", deletedWhat(d.Kind), d.Name))
}

// deviceNames word the kinds of device a participant joins from.
var deviceNames = map[string]string{DevicePhone: "phone", DeviceTablet: "tablet", DeviceDesktop: "desktop browser", DeviceApp: "Siteline app"}

func deviceName(d string) string {
	if n, ok := deviceNames[d]; ok {
		return n
	}
	return d
}

// guestKinds word how a guest came into the call.
var guestKinds = map[storage.UserKind]string{
	storage.UserGuestApp: "app", storage.UserGuestMobile: "mobile browser", storage.UserGuestDesktop: "desktop browser",
}

// roleOf is the part a participant took in the call.
func roleOf(p storage.SessionParticipant, s storage.Session) string {
	switch {
	case p.UserKind != storage.UserRegular && p.UserKind != "":
		return "guest"
	case p.UserID != "" && p.UserID == s.CreatedBy:
		return "host"
	}
	return "member"
}

// fileType words a stored file's type (the type its bytes showed, see
// SniffType) and tells how the page previews it.
func fileType(contentType string) (string, string) {
	mt, _, _ := strings.Cut(contentType, ";")
	switch mt {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp":
		return strings.ToUpper(strings.TrimPrefix(mt, "image/")) + " image", "image"
	case "application/pdf":
		return "PDF document", "pdf"
	case "text/plain":
		return "Text", ""
	case "application/zip", "application/x-gzip", "application/x-rar-compressed":
		return "Archive", ""
	}
	if kind, sub, ok := strings.Cut(mt, "/"); ok && (kind == "video" || kind == "audio") {
		return strings.ToUpper(sub) + " " + kind, ""
	}
	return "File", ""
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
