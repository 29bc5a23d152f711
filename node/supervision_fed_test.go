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

// waitSupervised reads a supervisor's events socket until the member
// shows the status, and returns that member update.
func waitSupervised(t *testing.T, es *eventSocket, memberID, status string) web.BoardMember {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		e := es.next(memberID + " " + status)
		if e.Type == web.EventSupervision && e.Supervision.Kind == "member" && e.Supervision.Member.ID == memberID && e.Supervision.Member.Status == status {
			return *e.Supervision.Member
		}
	}
	t.Fatalf("%s never shown %s", memberID, status)
	return web.BoardMember{}
}

// TestTeamDashboardAcrossTheFederation: a lead at headquarters watches a
// team whose member works at a plant. The member opens a page at the
// plant: available at headquarters; joins a call at the plant: busy, with
// the call, its start and the plant's site, and the call among the team's
// ongoing sessions at headquarters, linked to the plant's node; the lead
// follows that link and sits in on the call there; the member leaves:
// available again. The plant's own lead supervises the same member from
// the plant's node, which needs nothing from headquarters to do so.
func TestTeamDashboardAcrossTheFederation(t *testing.T) {
	nodes := startFederation(t, 1, 1, nil)
	hq, plant := nodes[0], nodes[1]
	adm := hq.admin()
	// The headquarters lead takes calls too (regular), which joining one
	// to sit in needs.
	lead := createUser(t, adm, "hq-lead@hq.example", supervisionPassword, policy.RoleRegular, policy.RoleTeamLead)
	plantLead := createUser(t, adm, "plant-lead@plant.example", supervisionPassword, policy.RoleTeamLead)
	member := createUser(t, adm, "member@plant.example", supervisionPassword, policy.RoleRegular)
	var team storage.Team
	if st := adm.do("POST", "/api/v1/teams", map[string]string{"name": "Plant 1 field service"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}
	for _, m := range []struct {
		id   string
		role storage.TeamRole
	}{{lead.ID, storage.TeamLead}, {plantLead.ID, storage.TeamLead}, {member.ID, storage.TeamMember}} {
		if st := adm.do("PUT", "/api/v1/teams/"+team.ID+"/members/"+m.id, map[string]any{"role": m.role}, nil); st != 204 && st != 200 {
			t.Fatalf("team member %s = %d", m.id, st)
		}
	}
	eventually(t, 20*time.Second, "team at the plant", func() bool {
		tw, err := plant.n.store.Scoped().TeamWithMembers(context.Background(), plant.n.OrgID(), team.ID)
		return err == nil && len(tw.Members) == 3 && plant.tryLogin(member.Email, supervisionPassword)
	})

	hqLead := hq.openEvents(t, hq.login(lead.Email, supervisionPassword))
	plantLeadEvents := plant.openEvents(t, plant.login(plantLead.Email, supervisionPassword))
	memberAtPlant := plant.login(member.Email, supervisionPassword)
	plant.openEvents(t, memberAtPlant) // the member's page, open at the plant
	waitSupervised(t, hqLead, member.ID, web.StatusAvailable)
	waitSupervised(t, plantLeadEvents, member.ID, web.StatusAvailable)

	cn := &callNode{testNode: plant}
	call := cn.createCall(t, memberAtPlant)
	joined := time.Now()
	c := cn.join(t, memberAtPlant, call.ID, "Mia Member", client.Config{})
	busy := waitSupervised(t, hqLead, member.ID, web.StatusBusy)
	t.Logf("headquarters saw the plant member busy %v after the join began", time.Since(joined))
	if busy.CallID != call.ID || busy.Since == nil || busy.Site != "Plant 1" {
		t.Fatalf("busy at headquarters = %+v, want call %s at Plant 1 with its start", busy, call.ID)
	}
	if busy.CallURL != plant.url {
		t.Fatalf("headquarters links the call to %q, want the plant's node %q", busy.CallURL, plant.url)
	}
	if local := waitSupervised(t, plantLeadEvents, member.ID, web.StatusBusy); local.CallID != call.ID || local.CallURL != "" {
		t.Fatalf("busy at the plant = %+v, want its own call with no other node's address", local)
	}
	var b web.TeamBoard
	if st := hq.login(lead.Email, supervisionPassword).do("GET", "/api/v1/supervision/teams/"+team.ID, nil, &b); st != 200 {
		t.Fatalf("board at headquarters = %d", st)
	}
	found := false
	for _, s := range b.Sessions {
		found = found || s.ID == call.ID && len(s.Members) == 1 && s.Members[0] == member.ID
	}
	if !found {
		t.Fatalf("the plant's call is not among the team's ongoing sessions at headquarters: %+v", b.Sessions)
	}
	for _, s := range b.Sessions {
		if s.ID == call.ID && s.URL != plant.url {
			t.Fatalf("the session's address at headquarters = %q, want the plant's %q", s.URL, plant.url)
		}
	}

	// The lead follows the link: signs in at the plant's node with the
	// same account and sits in on the call there, hidden, watching the
	// member, who is told.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, client.TrackSpec{Kind: "video"}); err != nil {
		t.Fatal(err)
	}
	sup, err := cn.tryJoin(t, plant.login(lead.Email, supervisionPassword), call.ID, client.JoinOptions{Hidden: true, Monitor: member.ID})
	if err != nil {
		t.Fatalf("the headquarters lead sits in at the plant: %v", err)
	}
	waitTrack(t, sup, c.ID(), "video")
	if on := nextEvent(t, c, "the member's indicator", ofType(signal.TypeMonitoringOn)); on.Mode != signal.ModeSitIn {
		t.Fatalf("indicator = %+v, want sit-in", on)
	}
	if err := sup.Close(); err != nil {
		t.Fatal(err)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitSupervised(t, hqLead, member.ID, web.StatusAvailable)
	waitSupervised(t, plantLeadEvents, member.ID, web.StatusAvailable)
}

// TestTeamDashboardAtACutOffPlant: with the plant's links to
// headquarters cut (Raft and the bus), the plant's lead goes on
// supervising there: the board answers and a member's call shows busy,
// from the plant's own copy and presence.
func TestTeamDashboardAtACutOffPlant(t *testing.T) {
	l := newLink(t)
	hq := fedNode(t, 1, "HQ 1", nil, nil)
	leaf := strings.TrimPrefix(hq.n.LeafURL(), "tls://")
	plant := fedNode(t, 11, "Plant 1", &JoinOptions{Server: hq.url, Token: joinToken(t, hq)}, func(c *Config, o *Options) {
		c.Raft.Listen = freeAddr(t, "127.0.0.11")
		c.Raft.Advertise = l.proxy(c.Raft.Listen)
		o.RaftDial = l.dial
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(leaf)}
	})
	plant.password = hq.password
	adm := hq.admin()
	lead := createUser(t, adm, "plant-lead@plant.example", supervisionPassword, policy.RoleTeamLead)
	member := createUser(t, adm, "member@plant.example", supervisionPassword, policy.RoleRegular)
	var team storage.Team
	if st := adm.do("POST", "/api/v1/teams", map[string]string{"name": "Plant 1 field service"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}
	for _, m := range []struct {
		id   string
		role storage.TeamRole
	}{{lead.ID, storage.TeamLead}, {member.ID, storage.TeamMember}} {
		if st := adm.do("PUT", "/api/v1/teams/"+team.ID+"/members/"+m.id, map[string]any{"role": m.role}, nil); st != 204 && st != 200 {
			t.Fatalf("team member %s = %d", m.id, st)
		}
	}
	eventually(t, 20*time.Second, "team at the plant", func() bool {
		tw, err := plant.n.store.Scoped().TeamWithMembers(context.Background(), plant.n.OrgID(), team.ID)
		return err == nil && len(tw.Members) == 2 && plant.tryLogin(member.Email, supervisionPassword)
	})
	leadAtPlant := plant.login(lead.Email, supervisionPassword)
	memberAtPlant := plant.login(member.Email, supervisionPassword)

	// Linked, headquarters hears of the member's page at the plant.
	plant.openEvents(t, memberAtPlant)
	eventually(t, 10*time.Second, "the member's page seen at headquarters", func() bool {
		return hq.n.ring.Presence().Snapshot(hq.n.OrgID())[member.ID].Page
	})

	l.setCut(true)
	events := plant.openEvents(t, leadAtPlant)
	waitSupervised(t, events, member.ID, web.StatusAvailable)
	cn := &callNode{testNode: plant}
	call := cn.createCall(t, memberAtPlant)
	cn.join(t, memberAtPlant, call.ID, "Mia Member", client.Config{})
	if busy := waitSupervised(t, events, member.ID, web.StatusBusy); busy.CallID != call.ID {
		t.Fatalf("busy at the cut-off plant = %+v", busy)
	}
	// The cut is real: headquarters heard nothing of the call.
	if seen := hq.n.ring.Presence().Snapshot(hq.n.OrgID())[member.ID]; seen.InCall {
		t.Fatalf("headquarters saw the member through the cut: %+v", seen)
	}
	var b web.TeamBoard
	if st := leadAtPlant.do("GET", "/api/v1/supervision/teams/"+team.ID, nil, &b); st != 200 || len(b.Sessions) != 1 || b.Sessions[0].ID != call.ID {
		t.Fatalf("board at the cut-off plant = %d, sessions %+v", st, b.Sessions)
	}
}
