package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"siteline/media/client"
	"siteline/media/signal"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// guestSawNothingOf fails when any message the guest received names
// participant pid or tells of monitoring.
func guestSawNothingOf(t *testing.T, guest *client.Client, pid string) {
	t.Helper()
	for _, m := range guest.Seen() {
		if m.Type == signal.TypeMonitoringOn || m.Type == signal.TypeMonitoringOff {
			t.Fatalf("the guest was told of monitoring: %+v", m)
		}
		if m.Participant == pid || m.Peer != nil && m.Peer.ID == pid || m.Track != nil && m.Track.Participant == pid ||
			m.Media != nil && m.Media.By == pid {
			t.Fatalf("the guest was told of the supervisor in %s: %+v", m.Type, m)
		}
		for _, p := range m.Participants {
			if p.ID == pid {
				t.Fatalf("the guest's participant list in %s includes the supervisor", m.Type)
			}
		}
		for _, tr := range m.Tracks {
			if tr.Participant == pid {
				t.Fatalf("the guest was offered the supervisor's track in %s", m.Type)
			}
		}
	}
	for _, r := range guest.Tracks() {
		if r.Participant == pid {
			t.Fatalf("the guest received the supervisor's %s", r.Kind)
		}
	}
}

// A member and a guest are in a call; the member's lead sits in (media,
// chat and chat history reach the lead; the guest never learns of it; the
// member gets the indicator), coaches (the member hears the lead, the
// guest does not), then takes over with the member leaving: the guest's
// connection and media go on, and the owner change is on disk and
// audited.
func TestSitInCoachTakeOver(t *testing.T) {
	cn := startCallNode(t)
	lead, leadB := cn.user(t, "lead@plant.example", "Lea Lead", "regular", "team_lead")
	member, memberB := cn.user(t, "member@plant.example", "Max Member", "regular")
	cn.team(t, "Line 3", lead.ID, member.ID)

	call := cn.createCall(t, memberB)
	mem := cn.join(t, memberB, call.ID, "Max", client.Config{})
	guestB := cn.inviteGuest(t, memberB, call.ID, "Gina")
	guest := cn.join(t, guestB, call.ID, "Gina", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := mem.Publish(ctx, client.TrackSpec{Kind: "video"}, client.TrackSpec{Kind: "audio"}); err != nil {
		t.Fatal(err)
	}
	if _, err := guest.Publish(ctx, client.TrackSpec{Kind: "audio"}); err != nil {
		t.Fatal(err)
	}
	if err := guest.Chat(ctx, "before the lead came"); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, mem, "the member reads the guest", ofType(signal.TypeChat))

	sup, err := cn.tryJoin(t, leadB, call.ID, client.JoinOptions{Hidden: true, Monitor: member.ID})
	if err != nil {
		t.Fatalf("sit in: %v", err)
	}
	waitTrack(t, sup, mem.ID(), "video")
	guestAudio := waitTrack(t, sup, guest.ID(), "audio")
	on := nextEvent(t, mem, "the member's indicator", ofType(signal.TypeMonitoringOn))
	if on.Mode != signal.ModeSitIn || on.Name != "Lea Lead" {
		t.Fatalf("indicator = %+v, want sit-in by Lea Lead", on)
	}
	var history []web.ChatLine
	if st := leadB.do("GET", "/api/v1/calls/"+call.ID+"/chat", nil, &history); st != 200 || len(history) != 1 || history[0].Text != "before the lead came" {
		t.Fatalf("chat history for the lead = %d %+v", st, history)
	}
	if err := guest.Chat(ctx, "while the lead listens"); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sup, "the lead reads the live chat", func(m signal.Message) bool {
		return m.Type == signal.TypeChat && m.Text == "while the lead listens"
	})

	// Coaching: the member hears the lead; the guest hears nothing of it.
	if _, err := sup.Publish(ctx, client.TrackSpec{Kind: "audio"}); err != nil {
		t.Fatalf("coaching audio: %v", err)
	}
	if err := sup.Send(ctx, signal.Message{Type: signal.TypeCoach, Coaching: true}); err != nil {
		t.Fatal(err)
	}
	if m := nextEvent(t, mem, "the member told of coaching", ofType(signal.TypeMonitoringOn)); m.Mode != signal.ModeCoach {
		t.Fatalf("indicator while coaching = %+v", m)
	}
	whisper := waitTrack(t, mem, sup.ID(), "audio")
	eventually(t, 15*time.Second, "the member hears the coach", func() bool { return whisper.Stats().Unique >= 50 })
	guestSawNothingOf(t, guest, sup.ID())

	// Take over over signaling, the member leaving.
	if err := sup.Send(ctx, signal.Message{Type: signal.TypeTakeOver, MemberLeaves: true}); err != nil {
		t.Fatal(err)
	}
	if end := nextEvent(t, mem, "the member is taken out", ofType(signal.TypeEnd)); !strings.Contains(end.Error, "took the session over") {
		t.Fatalf("member's end = %+v", end)
	}
	nextEvent(t, guest, "the guest sees the lead join", func(m signal.Message) bool {
		return m.Type == signal.TypeParticipantJoined && m.Peer.ID == sup.ID()
	})
	nextEvent(t, guest, "the guest sees the member leave", func(m signal.Message) bool {
		return m.Type == signal.TypeParticipantLeft && m.Participant == mem.ID()
	})
	waitTrack(t, guest, sup.ID(), "audio")
	before := guestAudio.Stats().Unique
	eventually(t, 15*time.Second, "the guest's audio goes on reaching the lead", func() bool {
		return guestAudio.Stats().Unique > before+50
	})
	joins := 0
	for _, m := range guest.Seen() {
		if m.Type == signal.TypeJoined {
			joins++
		}
	}
	if joins != 1 {
		t.Fatalf("the guest joined %d times, want one connection throughout", joins)
	}
	s, err := cn.n.Store().Session(ctx, call.ID)
	if err != nil || s.OwnerID != lead.ID || s.CreatedBy != member.ID {
		t.Fatalf("session after take-over = %+v %v", s, err)
	}
	evs, _ := cn.n.Store().SessionEvents(ctx, call.ID)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	for _, want := range []string{storage.EventSitIn, storage.EventCoach, storage.EventRevealed, storage.EventTakenOver} {
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("session events %v lack %s", kinds, want)
		}
	}
	for _, action := range []string{"call.sit_in", "call.coach", "call.reveal", "call.take_over"} {
		if got := auditOf(t, cn.n, action); len(got) != 1 || got[0].ActorID != lead.ID || got[0].Target != call.ID {
			t.Errorf("audit %s = %+v", action, got)
		}
	}

	// The lead, owner now, hands the session back to the member.
	if st := leadB.do("POST", "/api/v1/calls/"+call.ID+"/transfer", web.TransferInput{ToUser: member.ID}, &s); st != 200 || s.OwnerID != member.ID {
		t.Fatalf("the new owner transfers the session back = %d %+v", st, s)
	}
}

// A transfer to a member of another team over HTTP: the new owner is
// offered the call, joins it, and the guest's connection goes on; a
// transfer to a team the organisation does not have is refused.
func TestTransferToAnotherTeamsMember(t *testing.T) {
	cn := startCallNode(t)
	lead, leadB := cn.user(t, "lead@plant.example", "Lea Lead", "regular", "team_lead")
	member, memberB := cn.user(t, "member@plant.example", "Max Member", "regular")
	other, otherB := cn.user(t, "other@plant.example", "Olga Other", "regular")
	cn.team(t, "Line 3", lead.ID, member.ID)
	cn.team(t, "Line 4", cn.userID(t, "tech@plant.example"), other.ID)

	call := cn.createCall(t, memberB)
	mem := cn.join(t, memberB, call.ID, "Max", client.Config{})
	guestB := cn.inviteGuest(t, memberB, call.ID, "Gina")
	guest := cn.join(t, guestB, call.ID, "Gina", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := guest.Publish(ctx, client.TrackSpec{Kind: "audio"}); err != nil {
		t.Fatal(err)
	}
	waitTrack(t, mem, guest.ID(), "audio")

	if st := leadB.do("POST", "/api/v1/calls/"+call.ID+"/transfer", web.TransferInput{ToTeam: "team-x"}, nil); st != 404 {
		t.Fatalf("transfer to an unknown team = %d, want 404", st)
	}
	var s storage.Session
	if st := leadB.do("POST", "/api/v1/calls/"+call.ID+"/transfer", web.TransferInput{ToUser: other.ID, MemberLeaves: true}, &s); st != 200 || s.OwnerID != other.ID {
		t.Fatalf("transfer = %d %+v", st, s)
	}
	nextEvent(t, mem, "the member is taken out", ofType(signal.TypeEnd))
	newOwner := cn.join(t, otherB, call.ID, "Olga", client.Config{})
	waitTrack(t, newOwner, guest.ID(), "audio")
	nextEvent(t, guest, "the guest sees the new owner", func(m signal.Message) bool {
		return m.Type == signal.TypeParticipantJoined && m.Peer.ID == newOwner.ID()
	})
	if got := auditOf(t, cn.n, "call.transfer"); len(got) != 1 || got[0].ActorID != lead.ID || !strings.Contains(got[0].Detail, other.ID) {
		t.Fatalf("transfer audit = %+v", got)
	}
}

// The scope of the supervision actions, over HTTP and signaling: lead,
// manager, member, outsider and administrator, on a call of their own
// team, of another team, and of a member of two teams (nested
// membership). A refusal is a 403 naming the permission.
func TestSupervisionScope(t *testing.T) {
	cn := startCallNode(t)
	lead, leadB := cn.user(t, "lead@plant.example", "Lea Lead", "regular", "team_lead")
	manager, managerB := cn.user(t, "manager@plant.example", "Mia Manager", "regular", "team_manager")
	member, memberB := cn.user(t, "member@plant.example", "Max Member", "regular")
	_, outsiderB := cn.user(t, "out@plant.example", "Otto Outside", "regular", "team_lead")
	otherLead, _ := cn.user(t, "lead2@plant.example", "Lou Lead", "regular", "team_lead")
	other, otherB := cn.user(t, "other@plant.example", "Olga Other", "regular")
	both, bothB := cn.user(t, "both@plant.example", "Bo Both", "regular")
	cn.team(t, "Line 3", lead.ID, member.ID, both.ID)
	cn.team(t, "Line 4", otherLead.ID, other.ID, both.ID)
	var line3 storage.Team
	var teams []storage.Team
	cn.admin.do("GET", "/api/v1/teams", nil, &teams)
	for _, tm := range teams {
		if tm.Name == "Line 3" {
			line3 = tm
		}
	}
	if st := cn.admin.do("PUT", "/api/v1/teams/"+line3.ID+"/members/"+manager.ID, map[string]string{"role": "manager"}, nil); st != 204 {
		t.Fatalf("manager role = %d", st)
	}
	_ = member
	own := map[string]*browser{"own team": memberB, "other team": otherB, "nested": bothB}
	type actor struct {
		b       *browser
		allowed map[string]bool // by call
	}
	actors := map[string]actor{
		"lead":          {leadB, map[string]bool{"own team": true, "nested": true}},
		"manager":       {managerB, map[string]bool{"own team": true, "nested": true}},
		"member":        {memberB, map[string]bool{}},
		"outsider":      {outsiderB, map[string]bool{}},
		"administrator": {cn.admin, map[string]bool{"own team": true, "other team": true, "nested": true}},
	}
	calls := map[string]string{}
	for name, b := range own {
		calls[name] = cn.createCall(t, b).ID
	}
	for who, a := range actors {
		for call, id := range calls {
			if who == "member" && call == "own team" {
				continue // one's own call: nothing to supervise
			}
			want := a.allowed[call]
			// Sit in and coach over signaling.
			c, err := cn.tryJoin(t, a.b, id, client.JoinOptions{Hidden: true})
			var e *client.Error
			if want != (err == nil) {
				t.Errorf("%s sits in on the %s call: %v, want allowed %v", who, call, err, want)
			} else if !want && (!errors.As(err, &e) || e.Code != signal.CodeForbidden || e.Permission != policy.CallSitIn) {
				t.Errorf("%s sits in on the %s call: %v, want forbidden naming %s", who, call, err, policy.CallSitIn)
			}
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := c.Send(ctx, signal.Message{ID: "coach", Type: signal.TypeCoach, Coaching: true}); err != nil {
					t.Fatal(err)
				}
				if m, err := c.Next(ctx, func(m signal.Message) bool { return m.Type == signal.TypeError && m.ID == "coach" }); err == nil {
					t.Errorf("%s coaches on the %s call: %+v", who, call, m)
				}
				cancel()
				_ = c.Close()
			}
			// Take over and transfer over HTTP: refused out of scope (403),
			// else checked past the scope by a bad request.
			var body map[string]any
			st := a.b.do("POST", "/api/v1/calls/"+id+"/transfer", web.TransferInput{ToUser: "nobody"}, &body)
			if want && st != 400 || !want && (st != 403 || body["permission"] != policy.CallTransfer) {
				t.Errorf("%s transfers the %s call = %d %v, want allowed %v", who, call, st, body, want)
			}
		}
	}
	// Take over, allowed and refused, over HTTP and signaling.
	var body map[string]any
	if st := outsiderB.do("POST", "/api/v1/calls/"+calls["own team"]+"/take-over", web.TakeOverInput{}, &body); st != 403 || body["permission"] != policy.CallTakeOver {
		t.Errorf("outsider takes over = %d %v", st, body)
	}
	sup, err := cn.tryJoin(t, outsiderB, calls["nested"], client.JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sup.Send(ctx, signal.Message{ID: "t1", Type: signal.TypeTakeOver}); err != nil {
		t.Fatal(err)
	}
	refused, err := sup.Next(ctx, func(m signal.Message) bool { return m.Type == signal.TypeError && m.ID == "t1" })
	if err != nil || refused.Permission != policy.CallTakeOver {
		t.Errorf("outsider's take-over over signaling = %+v %v", refused, err)
	}
	var s storage.Session
	if st := managerB.do("POST", "/api/v1/calls/"+calls["nested"]+"/take-over", web.TakeOverInput{}, &s); st != 200 || s.OwnerID != manager.ID {
		t.Errorf("manager takes over the nested member's call = %d %+v", st, s)
	}
}
