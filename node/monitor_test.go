package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"siteline/media/client"
	"siteline/media/signal"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// A lead asks a member of the team to show their screen outside any call:
// the member's open page rings with who asks; the member's page joins and
// publishes; the lead watches hidden and receives the video; the member is
// sent the indicator by the node. The request is a session event of a
// session the member owns, and an audit event. Nobody else may ask: a
// user without the permission, or a lead of another team, gets 403 naming
// xa_icall_monitor-screen; a member with no page open is not reachable.
func TestMonitorAMemberOutsideACall(t *testing.T) {
	cn := startCallNode(t)
	lead, leadB := cn.user(t, "lead@plant.example", "Lea Lead", "regular", "team_lead")
	member, memberB := cn.user(t, "member@plant.example", "Max Member", "regular")
	_, otherLeadB := cn.user(t, "other@plant.example", "Ola Other", "regular", "team_lead")
	_, peerB := cn.user(t, "peer@plant.example", "Pia Peer", "regular")
	cn.team(t, "Line 3", lead.ID, member.ID)
	path := "/api/v1/users/" + member.ID + "/monitor"

	var out web.DialOut
	if st := leadB.do("POST", path, nil, &out); st != 200 || out.Status != web.DialNotReachable || !strings.Contains(out.Reason, "no Siteline page open") {
		t.Fatalf("monitor a member with no page = %d %+v, want not reachable with the reason", st, out)
	}
	page := cn.openEvents(t, memberB)
	for who, b := range map[string]*browser{"a member": peerB, "another team's lead": otherLeadB} {
		st, data := b.raw("POST", path, "application/json", nil)
		if e := apiError(t, data); st != 403 || e.Permission != policy.CallMonitorScreen {
			t.Errorf("%s asks = %d %+v, want 403 naming %s", who, st, e, policy.CallMonitorScreen)
		}
	}
	if st := leadB.do("POST", "/api/v1/users/nobody/monitor", nil, nil); st != 403 && st != 404 {
		t.Errorf("monitor an unknown user = %d, want 403 or 404", st)
	}

	if st := leadB.do("POST", path, nil, &out); st != 201 || out.Status != web.DialRinging || out.CallID == "" ||
		!strings.HasSuffix(out.URL, "/calls/"+out.CallID+"?sitin="+member.ID) {
		t.Fatalf("monitor = %d %+v, want it ringing with the sit-in page", st, out)
	}
	ring := page.next("the request")
	if ring.Type != web.EventIncomingCall || ring.CallID != out.CallID || ring.CallerName != "Lea Lead" ||
		ring.Subject != "Lea Lead asks to see your screen" || !strings.HasSuffix(ring.URL, "/calls/"+out.CallID+"?share=screen") {
		t.Fatalf("the member's page got %+v", ring)
	}

	mem := cn.join(t, memberB, out.CallID, "Max", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := mem.Publish(ctx, client.TrackSpec{Kind: "video"}); err != nil {
		t.Fatal(err)
	}
	sup, err := cn.tryJoin(t, leadB, out.CallID, client.JoinOptions{Hidden: true, Monitor: member.ID})
	if err != nil {
		t.Fatalf("the lead watches: %v", err)
	}
	waitTrack(t, sup, mem.ID(), "video")
	if on := nextEvent(t, mem, "the member's indicator", ofType(signal.TypeMonitoringOn)); on.Name != "Lea Lead" {
		t.Fatalf("indicator = %+v, want Lea Lead", on)
	}
	_ = sup.Close()
	nextEvent(t, mem, "the indicator taken down", ofType(signal.TypeMonitoringOff))
	// Another lead may not watch it.
	if _, err := cn.tryJoin(t, otherLeadB, out.CallID, client.JoinOptions{Hidden: true, Monitor: member.ID}); err == nil {
		t.Fatal("another team's lead watched the member's screen")
	}

	s, err := cn.n.store.Session(ctx, out.CallID)
	if err != nil || s.Owner() != member.ID || s.Name != "Screen of Max Member" {
		t.Fatalf("session = %+v, %v; want Max's, named for the screen", s, err)
	}
	evs, err := cn.n.store.SessionEvents(ctx, out.CallID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		found = found || e.Kind == storage.EventMonitor && e.ActorID == lead.ID && strings.Contains(string(e.Payload), member.ID)
	}
	if !found {
		t.Errorf("no monitor event by the lead in %+v", evs)
	}
	audit, err := cn.n.store.Audit(ctx, storage.AuditFilter{Action: "supervision.monitor"})
	if err != nil || len(audit) != 1 || audit[0].ActorID != lead.ID || audit[0].Target != out.CallID {
		t.Errorf("audit = %+v, %v; want the lead's request", audit, err)
	}
}
