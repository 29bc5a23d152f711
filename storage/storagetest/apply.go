package storagetest

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

// ApplierBackend is what HistoryApplier drives, as a plant (whose writes
// fill its outbox) and as headquarters (which applies them): the session
// store, the audit log, the field setters and the applier, with the list
// of the messages it rejected.
type ApplierBackend interface {
	FieldsBackend
	storage.HistoryApplier
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
	Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
	// HistoryRejected lists the rejected messages kept, by origin and
	// sequence.
	HistoryRejected(ctx context.Context) ([]storage.HistoryRejection, error)
	// Media, Recording and SessionDeletions read the forwarded media rows
	// and their deletions back.
	Media(ctx context.Context, id string) (storage.Media, error)
	Recording(ctx context.Context, id string) (storage.Recording, error)
	SessionDeletions(ctx context.Context, sessionID string) ([]storage.MediaDeletion, error)
	// ServiceReport and ServiceReportVersions read forwarded service
	// reports back.
	ServiceReport(ctx context.Context, orgID, id string) (storage.ServiceReport, error)
	ServiceReportVersions(ctx context.Context, orgID, id string) ([]storage.ServiceReport, error)
	SessionServiceReports(ctx context.Context, orgID, sessionID string) ([]storage.ServiceReport, error)
}

// HistoryApplier tests storage.HistoryApplier, for the records of
// sessions, participants, session events, audit events, session fields,
// media and recording rows and their deletions, and service reports. open returns a new store, empty but for the organisation data
// that holds Labels, closed when the test that opened it ends; each
// subtest opens a plant and a headquarters.
func HistoryApplier(t *testing.T, open func(t *testing.T) ApplierBackend) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, open func(t *testing.T) ApplierBackend)
	}{
		{"IdempotentAndOrderFree", applyIdempotentAndOrderFree},
		{"KeepsWhatCannotApply", applyKeepsWhatCannotApply},
		{"RefusesBadRecords", applyRefusesBadRecords},
		{"LaterStatusWins", applyLaterStatusWins},
		{"OwnerChange", applyOwnerChange},
		{"Fields", applyFields},
		{"Marks", applyMarks},
		{"MediaRows", applyMediaRows},
		{"MediaDeletion", applyMediaDeletion},
		{"MediaDeletionRefusesBadRecords", applyMediaDeletionRefusesBadRecords},
		{"ServiceReports", applyServiceReports},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open) })
	}
}

// recordPlantHistory writes a session's life at a plant (recordSession)
// and an audit event: seven records.
func recordPlantHistory(t *testing.T, s ApplierBackend, id string) {
	t.Helper()
	recordSession(t, s, id)
	if err := s.AppendAudit(context.Background(), storage.AuditEvent{ID: id + "-audit", OrgID: "o1", SiteID: "plant", At: t0,
		ActorID: "u1", Action: "call.start", Target: id, Detail: `{"name":"Pump"}`}); err != nil {
		t.Fatal(err)
	}
}

// siteHistory is everything a store holds about one session.
type siteHistory struct {
	Session      storage.Session
	Participants []storage.SessionParticipant
	Events       []storage.SessionEvent
	Audit        []storage.AuditEvent
}

func historyOf(t *testing.T, s ApplierBackend, id string) siteHistory {
	t.Helper()
	ctx := context.Background()
	var h siteHistory
	var err error
	if h.Session, err = s.Session(ctx, id); err != nil {
		t.Fatal(err)
	}
	if h.Participants, err = s.SessionParticipants(ctx, id); err != nil {
		t.Fatal(err)
	}
	if h.Events, err = s.SessionEvents(ctx, id); err != nil {
		t.Fatal(err)
	}
	if h.Audit, err = s.Audit(ctx, storage.AuditFilter{OrgID: "o1"}); err != nil {
		t.Fatal(err)
	}
	return h
}

// messagesOf turns a store's whole outbox into forwarded messages.
func messagesOf(t *testing.T, s ApplierBackend, origin string) []storage.HistoryMessage {
	t.Helper()
	rows, err := s.PendingHistory(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.HistoryMessage
	for _, r := range rows {
		out = append(out, storage.HistoryMessage{Origin: origin, Seq: r.Seq, Record: r.Record})
	}
	return out
}

func reversed(msgs []storage.HistoryMessage) []storage.HistoryMessage {
	out := slices.Clone(msgs)
	slices.Reverse(out)
	return out
}

func mustApplyHistory(t *testing.T, s ApplierBackend, batch []storage.HistoryMessage) {
	t.Helper()
	res, err := s.ApplyHistory(context.Background(), batch)
	if err != nil || res.Applied != len(batch) || len(res.Rejected) != 0 {
		t.Fatalf("apply %d messages = %+v %v, want all applied", len(batch), res, err)
	}
}

// applyIdempotentAndOrderFree: a plant's records applied backwards, again
// forwards, then one of them alone, leave headquarters with the plant's
// history, and nothing in headquarters' own outbox.
func applyIdempotentAndOrderFree(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	plant, hq := open(t), open(t)
	recordPlantHistory(t, plant, "c1")
	msgs := messagesOf(t, plant, "plant-1")
	if len(msgs) != 7 {
		t.Fatalf("%d messages, want 7", len(msgs))
	}
	for _, batch := range [][]storage.HistoryMessage{reversed(msgs), msgs, msgs[5:6]} {
		mustApplyHistory(t, hq, batch)
	}
	if got, want := historyOf(t, hq, "c1"), historyOf(t, plant, "c1"); !reflect.DeepEqual(got, want) {
		t.Fatalf("headquarters holds\n%+v\nwant\n%+v", got, want)
	}
	if rows, _ := hq.PendingHistory(ctx, 10); len(rows) != 0 {
		t.Errorf("applied records entered headquarters' own outbox: %+v", rows)
	}
	marks, err := hq.HistoryMarks(ctx)
	if err != nil || !reflect.DeepEqual(marks, map[string]int64{"plant-1": 7}) {
		t.Errorf("marks = %v %v, want plant-1 at 7", marks, err)
	}
	if rej, err := hq.HistoryRejected(ctx); err != nil || len(rej) != 0 {
		t.Errorf("rejected = %+v %v", rej, err)
	}
	// An empty batch applies nothing and fails nothing.
	if res, err := hq.ApplyHistory(ctx, nil); err != nil || res.Applied != 0 || len(res.Rejected) != 0 {
		t.Errorf("apply nothing = %+v %v", res, err)
	}
}

// applyKeepsWhatCannotApply: messages that can never apply are listed
// with their reason and kept, once however often they come, and the good
// messages around them apply.
func applyKeepsWhatCannotApply(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	plant, hq := open(t), open(t)
	recordPlantHistory(t, plant, "c1")
	msgs := messagesOf(t, plant, "plant-1")
	bad := []storage.HistoryMessage{
		{Origin: "plant-1", Seq: 100, Record: []byte(`{"id":"x","kind":"session.event"}`)},
		{Origin: "plant-1", Seq: 101, Record: []byte(`not json`)},
		{Origin: "plant-1", Seq: 102, Record: []byte(`{"id":"y","kind":"weird","session":{}}`)},
		{Origin: "", Seq: 103, Record: msgs[0].Record},
		{Origin: "plant-2", Seq: 0, Record: msgs[0].Record},
	}
	batch := slices.Concat(bad[:2], msgs[:3], bad[2:], msgs[3:])
	for range 2 {
		res, err := hq.ApplyHistory(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if res.Applied != len(msgs) || len(res.Rejected) != len(bad) {
			t.Fatalf("apply = %+v, want %d applied and %d rejected", res, len(msgs), len(bad))
		}
		for i, r := range res.Rejected {
			want := bad[i]
			if r.Origin != want.Origin || r.Seq != want.Seq || r.Reason == "" {
				t.Errorf("rejection %d = %+v, want origin %q seq %d and a reason", i, r, want.Origin, want.Seq)
			}
		}
		if res.Rejected[0].ID != "x" || res.Rejected[2].ID != "y" {
			t.Errorf("rejections name ids %q and %q, want x and y", res.Rejected[0].ID, res.Rejected[2].ID)
		}
	}
	if got, want := historyOf(t, hq, "c1"), historyOf(t, plant, "c1"); !reflect.DeepEqual(got, want) {
		t.Fatalf("good records around bad ones: headquarters holds %+v, want %+v", got, want)
	}
	kept, err := hq.HistoryRejected(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range kept {
		keys = append(keys, r.Origin+"/"+itoa(r.Seq))
		if r.Reason == "" {
			t.Errorf("kept without a reason: %+v", r)
		}
	}
	if want := []string{"/103", "plant-1/100", "plant-1/101", "plant-1/102", "plant-2/0"}; !slices.Equal(keys, want) {
		t.Errorf("kept %v, want %v (once each)", keys, want)
	}
	// Rejected messages still raise their origin's mark: they are done
	// with, and the plant must not count them as a backlog.
	if marks, err := hq.HistoryMarks(ctx); err != nil || !reflect.DeepEqual(marks, map[string]int64{"plant-1": 102}) {
		t.Errorf("marks = %v %v, want plant-1 at 102", marks, err)
	}
}

// applyRefusesBadRecords: a record whose parts are missing or disagree is
// rejected with a reason naming what is wrong, and leaves nothing behind.
func applyRefusesBadRecords(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	plant, hq := open(t), open(t)
	recordPlantHistory(t, plant, "c1")
	if _, err := plant.SetSessionNotes(ctx, "c1", "notes", version(10, "plant")); err != nil {
		t.Fatal(err)
	}
	byID := map[string]string{}
	for _, m := range messagesOf(t, plant, "plant-1") {
		var rec storage.HistoryRecord
		if err := json.Unmarshal(m.Record, &rec); err != nil {
			t.Fatal(err)
		}
		byID[rec.ID] = string(m.Record)
	}
	fieldsID := "c1/notes/" + itoa(version(10, "plant").At.UnixNano()) + "/plant"
	alter := func(id, from, to string) string {
		t.Helper()
		rec, ok := byID[id]
		if !ok {
			t.Fatalf("no record %s", id)
		}
		out := strings.Replace(rec, from, to, 1)
		if out == rec {
			t.Fatalf("%q is not in record %s: %s", from, id, rec)
		}
		return out
	}
	for _, tc := range []struct {
		name, record, reason string
	}{
		{"no id", alter("c1-chat", `"id":"c1-chat"`, `"id":""`), "id"},
		{"created for another session", alter("c1", `"id":"c1"`, `"id":"c9"`), "session.created"},
		{"session without org", alter("c1-chat", `"org_id":"o1"`, `"org_id":""`), "session"},
		{"session without start", strings.Replace(byID["c1-chat"], `"started_at":"`, `"started_at_":"`, 1), "session"},
		{"session of unknown status", alter("c1-end", `"status":"ended"`, `"status":"paused"`), ""},
		{"event of another id", alter("c1-chat", `"event":{"id":"c1-chat"`, `"event":{"id":"c1-other"`), "event"},
		{"event of another session", alter("c1-chat", `"session_id":"c1"`, `"session_id":"c2"`), "event"},
		{"event without seq", alter("c1-chat", `"seq":3`, `"seq":0`), "event"},
		{"event without kind", alter("c1-chat", `"kind":"chat"`, `"kind":""`), "event"},
		{"join without participant", alter("c1-join-p1", `"participant":{`, `"participant_":{`), "participant"},
		{"join of another session's participant", alter("c1-join-p1", `"participant":{"id":"c1p1","session_id":"c1"`,
			`"participant":{"id":"c1p1","session_id":"c2"`), "participant"},
		{"audit of another id", alter("c1-audit", `"audit":{"id":"c1-audit"`, `"audit":{"id":"c1-x"`), "audit.id"},
		{"audit without action", alter("c1-audit", `"action":"call.start"`, `"action":""`), "audit"},
		{"fields without version", alter(fieldsID, `"origin":"plant"`, `"origin":""`), "fields.version"},
		{"fields of no group", alter(fieldsID, `"group":"notes"`, `"group":"colour"`), "fields.group"},
		{"fields with a label not of the org", alter(fieldsID, `"group":"notes"`, `"group":"labels","labels":["l9"]`), `"l9" is not a label of organisation o1`},
		{"fields without session", alter(fieldsID, `"session":{`, `"session_":{`), "session"},
		{"session time out of range", alter("c1-chat", `"started_at":"2025`, `"started_at":"2300`), "time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := hq.ApplyHistory(ctx, []storage.HistoryMessage{{Origin: "plant-1", Seq: 1, Record: []byte(tc.record)}})
			if err != nil {
				t.Fatalf("apply = %v, want the record rejected", err)
			}
			if res.Applied != 0 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, tc.reason) {
				t.Fatalf("apply %s = %+v, want it rejected naming %q", tc.record, res, tc.reason)
			}
			t.Logf("rejected: %s", res.Rejected[0].Reason)
		})
	}
	if _, err := hq.Session(ctx, "c1"); err == nil {
		t.Error("a rejected record left its session behind")
	}
	if got, err := hq.Audit(ctx, storage.AuditFilter{}); err != nil || len(got) != 0 {
		t.Errorf("a rejected record left audit events: %+v %v", got, err)
	}
}

// applyLaterStatusWins: a session's records applied out of order end with
// the latest status and the end time, never going back.
func applyLaterStatusWins(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	plant := open(t)
	if err := plant.CreateSession(ctx, storage.Session{ID: "r1", OrgID: "o1", SiteID: "plant", Kind: storage.SessionServiceRequest,
		Status: storage.SessionRinging, CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	join := t0.Add(time.Second)
	if err := plant.RecordJoin(ctx, storage.SessionParticipant{ID: "p1", SessionID: "r1", UserID: "u1", JoinedAt: join, Hidden: true},
		storage.SessionEvent{ID: "j1", SessionID: "r1", At: join, Kind: storage.EventJoined}); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Minute)
	if err := plant.EndSession(ctx, "r1", end, storage.SessionEvent{ID: "x1", SessionID: "r1", At: end, Kind: storage.EventEnded}); err != nil {
		t.Fatal(err)
	}
	msgs := messagesOf(t, plant, "plant-1") // created (ringing), joined (ringing), ended
	// A plant's session moves from ringing to active in a record that
	// says so: here, the joined record carries it active.
	var joined storage.HistoryRecord
	if err := json.Unmarshal(msgs[1].Record, &joined); err != nil {
		t.Fatal(err)
	}
	joined.Session.Status = storage.SessionActive
	joined.Participant.LeftAt = &end
	joined.Participant.Hidden = false // revealed since: once visible, never hidden again
	activeRec, err := json.Marshal(joined)
	if err != nil {
		t.Fatal(err)
	}
	active := storage.HistoryMessage{Origin: "plant-1", Seq: msgs[1].Seq, Record: activeRec}

	for name, order := range map[string][]storage.HistoryMessage{
		"ended first":   {msgs[2], active, msgs[0]},
		"ended last":    {msgs[0], active, msgs[2]},
		"active last":   {msgs[0], msgs[2], active},
		"one at a time": nil,
	} {
		t.Run(name, func(t *testing.T) {
			hq := open(t)
			if order == nil {
				for _, m := range []storage.HistoryMessage{msgs[2], msgs[0], active, msgs[1]} {
					mustApplyHistory(t, hq, []storage.HistoryMessage{m})
				}
			} else {
				mustApplyHistory(t, hq, order)
			}
			got, err := hq.Session(ctx, "r1")
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != storage.SessionEnded || got.EndedAt == nil || !got.EndedAt.Equal(end) || got.Kind != storage.SessionServiceRequest {
				t.Errorf("session = %+v, want the service request ended at %s", got, end)
			}
			ps := participants(t, hq, "r1")
			if len(ps) != 1 || ps[0].LeftAt == nil || !ps[0].LeftAt.Equal(end) || ps[0].Hidden {
				t.Errorf("participants = %+v, want p1 visible, left at %s", ps, end)
			}
		})
	}
	// Ringing then active: the active record wins whichever comes first.
	for name, order := range map[string][]storage.HistoryMessage{
		"active first": {active, msgs[0]},
		"active last":  {msgs[0], active},
	} {
		t.Run(name, func(t *testing.T) {
			hq := open(t)
			mustApplyHistory(t, hq, order)
			if got, err := hq.Session(ctx, "r1"); err != nil || got.Status != storage.SessionActive || got.EndedAt != nil {
				t.Errorf("session = %+v %v, want active", got, err)
			}
		})
	}
}

// applyOwnerChange: a take-over and a transfer at a plant reach
// headquarters: the session's owner is the one the latest of their events
// names, in whichever order the records are applied.
func applyOwnerChange(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	plant := open(t)
	if err := plant.CreateSession(ctx, storage.Session{ID: "c9", OrgID: "o1", SiteID: "plant", Name: "Pump", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for i, owner := range []string{"lead", "other"} {
		kind := storage.EventTakenOver
		if i == 1 {
			kind = storage.EventTransfer
		}
		ev := storage.SessionEvent{ID: "own" + owner, SessionID: "c9", At: t0.Add(time.Duration(i+1) * time.Second),
			Kind: kind, ActorID: "lead", Payload: []byte(`{"owner":"` + owner + `","from":"u1"}`)}
		if err := plant.AppendSessionEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// An event of another kind naming an owner changes nothing.
	if err := plant.AppendSessionEvent(ctx, storage.SessionEvent{ID: "chat", SessionID: "c9", At: t0.Add(3 * time.Second),
		Kind: storage.EventChat, Payload: []byte(`{"owner":"nobody"}`)}); err != nil {
		t.Fatal(err)
	}
	msgs := messagesOf(t, plant, "plant-1")
	for name, batch := range map[string][]storage.HistoryMessage{"forwards": msgs, "backwards": reversed(msgs)} {
		t.Run(name, func(t *testing.T) {
			hq := open(t)
			mustApplyHistory(t, hq, batch)
			if s, err := hq.Session(ctx, "c9"); err != nil || s.OwnerID != "other" || s.CreatedBy != "u1" {
				t.Errorf("headquarters session = %+v, %v; want owner other, creator u1", s, err)
			}
		})
	}
	t.Run("creation alone", func(t *testing.T) {
		hq := open(t)
		mustApplyHistory(t, hq, msgs[:1])
		if s, err := hq.Session(ctx, "c9"); err != nil || s.OwnerID != "u1" {
			t.Errorf("headquarters session = %+v, %v; want owner u1, its creator", s, err)
		}
	})
}

// applyFields: the fields a plant gives a session after the call reach
// headquarters, applied in any order (here the latest first) and more
// than once, ending as the plant's; a change already overtaken there
// applies as a no-op, not a rejection.
func applyFields(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	plant, hq := open(t), open(t)
	if err := plant.CreateSession(ctx, storage.Session{ID: "call", OrgID: "o1", SiteID: "s1", Name: "Call by Alice", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	solved := t0.Add(40 * time.Minute)
	for _, f := range []storage.SessionFields{
		{Group: storage.FieldsDetails, Version: version(1, "plant"), Name: "Press 7 jam", Goal: "restart it"},
		{Group: storage.FieldsOutcome, Version: version(2, "plant"), Outcome: storage.OutcomeFollowUp},
		{Group: storage.FieldsLabels, Version: version(3, "plant"), Labels: []string{"l1"}},
		{Group: storage.FieldsNotes, Version: version(4, "plant"), Notes: "order a new belt"},
		{Group: storage.FieldsOutcome, Version: version(5, "plant"), Outcome: storage.OutcomeSolved, SolvedAt: &solved},
		{Group: storage.FieldsLabels, Version: version(6, "plant"), Labels: []string{"l1", "l2"}},
	} {
		if ok, err := set(ctx, plant, "call", f); err != nil || !ok {
			t.Fatalf("set %s at the plant: %v, %v", f.Group, ok, err)
		}
	}
	msgs := messagesOf(t, plant, "plant")
	for range 2 {
		mustApplyHistory(t, hq, reversed(msgs))
	}
	want, got := summary(t, plant, "call"), summary(t, hq, "call")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headquarters holds %+v\nthe plant %+v", got, want)
	}
	if want.Name != "Press 7 jam" || want.Outcome != storage.OutcomeSolved || want.Notes != "order a new belt" ||
		!slices.Equal(want.Labels, []string{"l1", "l2"}) || want.SolvedAt == nil || !want.SolvedAt.Equal(solved) {
		t.Errorf("the plant's fields: %+v", want)
	}
	// A change made at headquarters later than the plant's wins there,
	// and the plant's records applied again do not undo it.
	if ok, err := hq.SetSessionNotes(ctx, "call", "from headquarters", version(9, "hq")); err != nil || !ok {
		t.Fatalf("set notes at headquarters: %v %v", ok, err)
	}
	mustApplyHistory(t, hq, msgs)
	if got := summary(t, hq, "call"); got.Notes != "from headquarters" {
		t.Errorf("notes at headquarters = %q after the plant's older change applied again", got.Notes)
	}
}

// applyMarks: each origin's mark is the highest sequence applied from it,
// never lowered by an older message applied later.
func applyMarks(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	plant1, plant2, hq := open(t), open(t), open(t)
	recordPlantHistory(t, plant1, "a1")
	recordSession(t, plant2, "b1")
	m1, m2 := messagesOf(t, plant1, "plant-1"), messagesOf(t, plant2, "plant-2")
	if marks, err := hq.HistoryMarks(ctx); err != nil || len(marks) != 0 {
		t.Errorf("marks before anything applied = %v %v, want none", marks, err)
	}
	mustApplyHistory(t, hq, slices.Concat(m1[4:], m2[:2]))
	if marks, err := hq.HistoryMarks(ctx); err != nil || !reflect.DeepEqual(marks, map[string]int64{"plant-1": 7, "plant-2": 2}) {
		t.Errorf("marks = %v %v, want plant-1 at 7 and plant-2 at 2", marks, err)
	}
	mustApplyHistory(t, hq, slices.Concat(m1[:4], m2[2:4]))
	if marks, err := hq.HistoryMarks(ctx); err != nil || !reflect.DeepEqual(marks, map[string]int64{"plant-1": 7, "plant-2": 4}) {
		t.Errorf("marks = %v %v, want plant-1 still at 7 and plant-2 at 4", marks, err)
	}
	if got, want := historyOf(t, hq, "a1"), historyOf(t, plant1, "a1"); !reflect.DeepEqual(got, want) {
		t.Errorf("headquarters holds %+v, want %+v", got, want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
