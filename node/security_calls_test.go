package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"siteline/media/client"
	"siteline/media/signal"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Regression tests of the call items of the security review (issue 13):
// each test names the item it covers.

// startCallNodeWith is startCallNode with a changed configuration.
func startCallNodeWith(t *testing.T, mutate func(*Config)) *callNode {
	t.Helper()
	cfg := testConfig(t, shortTempDir(t))
	mutate(&cfg)
	tn := startNode(t, cfg)
	admin := tn.admin()
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Name: "Tom Tech",
		Password: "tech's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create tech = %d", st)
	}
	return &callNode{testNode: tn, admin: admin, tech: tn.login("tech@plant.example", "tech's password 1")}
}

// user creates a user with roles, logs them in, and returns both.
func (cn *callNode) user(t *testing.T, email, name string, roles ...string) (storage.User, *browser) {
	t.Helper()
	var u storage.User
	pw := email + " password 1"
	if st := cn.admin.do("POST", "/api/v1/users", web.UserInput{Email: email, Name: name, Password: pw, Roles: roles}, &u); st != 201 {
		t.Fatalf("create %s = %d", email, st)
	}
	return u, cn.login(email, pw)
}

// userID returns the id of the user with e-mail email.
func (cn *callNode) userID(t *testing.T, email string) string {
	t.Helper()
	u, err := cn.n.store.UserByEmail(context.Background(), cn.n.orgID, email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// team creates a team with a lead and members.
func (cn *callNode) team(t *testing.T, name, lead string, members ...string) {
	t.Helper()
	var team storage.Team
	if st := cn.admin.do("POST", "/api/v1/teams", map[string]string{"name": name}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}
	set := func(user, role string) {
		if st := cn.admin.do("PUT", "/api/v1/teams/"+team.ID+"/members/"+user, map[string]string{"role": role}, nil); st != 204 {
			t.Fatalf("team role %s of %s = %d", role, user, st)
		}
	}
	set(lead, "lead")
	for _, m := range members {
		set(m, "member")
	}
}

// tryJoin joins callID as b and returns the client and the join's error.
func (cn *callNode) tryJoin(t *testing.T, b *browser, callID string, opts client.JoinOptions) (*client.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ws, err := cn.dial(ctx, b, callID)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c, err := client.New(client.Config{Name: "someone else", LoopbackOnly: true}, ws)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, c.Join(ctx, callID, opts)
}

func nextEvent(t *testing.T, c *client.Client, what string, match func(signal.Message) bool) signal.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	m, err := c.Next(ctx, match)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return m
}

func ofType(tp signal.Type) func(signal.Message) bool {
	return func(m signal.Message) bool { return m.Type == tp }
}

func auditOf(t *testing.T, n *Node, action string) []storage.AuditEvent {
	t.Helper()
	evs, err := n.store.Audit(context.Background(), storage.AuditFilter{OrgID: n.orgID, Action: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.AuditEvent
	for _, e := range evs {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// Item 4: a sit-in reaches only calls of the supervisor's teams, refuses
// unknown monitor values, shows every visible participant the indicator
// while it lasts, and is audited.
func TestSitInIsScopedSignalledAndAudited(t *testing.T) {
	cn := startCallNode(t)
	lead, leadB := cn.user(t, "lead@plant.example", "Lea Lead", "regular", "team_lead")
	member, memberB := cn.user(t, "member@plant.example", "Max Member", "regular")
	outsider, outsiderB := cn.user(t, "out@plant.example", "Otto Outside", "regular")
	cn.team(t, "Line 3", lead.ID, member.ID)

	theirs := cn.createCall(t, outsiderB)
	cn.join(t, outsiderB, theirs.ID, "Otto", client.Config{})
	ours := cn.createCall(t, memberB)
	mem := cn.join(t, memberB, ours.ID, "Max", client.Config{})

	// Not a call of the lead's teams: refused, naming the permission.
	_, err := cn.tryJoin(t, leadB, theirs.ID, client.JoinOptions{Hidden: true})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != signal.CodeForbidden || e.Permission != policy.CallSitIn {
		t.Fatalf("sit in on a call outside the lead's teams = %v, want forbidden naming %s", err, policy.CallSitIn)
	}
	// Monitor values that name nobody in the call are refused.
	for _, monitor := range []string{"bogus", outsider.ID} {
		_, err := cn.tryJoin(t, leadB, ours.ID, client.JoinOptions{Hidden: true, Monitor: monitor})
		if !errors.As(err, &e) || e.Code != signal.CodeBadMessage || !strings.Contains(e.Message, "monitor") {
			t.Fatalf("sit in with monitor %q = %v, want a bad-message error naming monitor", monitor, err)
		}
	}
	if got := auditOf(t, cn.n, "call.sit_in"); len(got) != 0 {
		t.Fatalf("refused sit-ins were audited: %+v", got)
	}

	sup, err := cn.tryJoin(t, leadB, ours.ID, client.JoinOptions{Hidden: true, Monitor: member.ID})
	if err != nil {
		t.Fatalf("sit in on a member's call: %v", err)
	}
	nextEvent(t, mem, "the member sees monitoring-on", ofType(signal.TypeMonitoringOn))
	late := cn.join(t, cn.admin, ours.ID, "Ada", client.Config{})
	nextEvent(t, late, "a later joiner sees monitoring-on", ofType(signal.TypeMonitoringOn))

	in := auditOf(t, cn.n, "call.sit_in")
	if len(in) != 1 || in[0].ActorID != lead.ID || in[0].Target != ours.ID || !strings.Contains(in[0].Detail, member.ID) {
		t.Fatalf("sit-in audit = %+v, want one by %s on %s naming %s", in, lead.ID, ours.ID, member.ID)
	}
	_ = sup.Close()
	nextEvent(t, mem, "the member sees monitoring-off", ofType(signal.TypeMonitoringOff))
	nextEvent(t, late, "the later joiner sees monitoring-off", ofType(signal.TypeMonitoringOff))
	eventually(t, 10*time.Second, "the end of the sit-in audited", func() bool {
		out := auditOf(t, cn.n, "call.sit_in_end")
		return len(out) == 1 && out[0].ActorID == lead.ID && out[0].Target == ours.ID &&
			strings.Contains(out[0].Detail, "left_at")
	})
}

// Item 7: a call's data, relay credentials and guest invitations are for
// its people, their supervisors and call-log readers; joining by the link
// stays open and makes one a participant.
func TestCallDataNeedsCallRights(t *testing.T) {
	cn := startCallNode(t)
	if st := cn.admin.do("POST", "/api/v1/policy/revoke", web.GrantInput{Subject: "role:regular", Permission: policy.SeeAllCallLogs}, nil); st != 200 {
		t.Fatalf("revoke see-all = %d", st)
	}
	lead, leadB := cn.user(t, "lead@plant.example", "Lea Lead", "regular", "team_lead")
	_, nosy := cn.user(t, "nosy@plant.example", "Nick Nosy", "regular")
	cn.team(t, "Line 3", lead.ID, cn.userID(t, "tech@plant.example"))
	call := cn.createCall(t, cn.tech)
	cn.join(t, cn.tech, call.ID, "Tom", client.Config{})

	reads := []struct{ method, path string }{
		{"GET", "/api/v1/calls/" + call.ID},
		{"GET", "/api/v1/calls/" + call.ID + "/chat"},
		{"GET", "/api/v1/calls/" + call.ID + "/ice-servers"},
	}
	invite := web.InviteInput{Channel: "link"}
	for _, r := range reads {
		var e web.ErrorBody
		if st := nosy.do(r.method, r.path, nil, &e); st != 403 || e.Permission != policy.SeeAllCallLogs {
			t.Errorf("%s %s by a stranger to the call = %d %+v, want 403 naming %s", r.method, r.path, st, e, policy.SeeAllCallLogs)
		}
	}
	var e web.ErrorBody
	if st := nosy.do("POST", "/api/v1/calls/"+call.ID+"/invitations", invite, &e); st != 403 || e.Permission != policy.SeeAllCallLogs {
		t.Errorf("invitation by a stranger to the call = %d %+v", st, e)
	}
	// The owner's and the owner's lead's reads pass.
	for name, b := range map[string]*browser{"owner": cn.tech, "lead": leadB} {
		for _, r := range reads {
			if st := b.do(r.method, r.path, nil, nil); st != 200 {
				t.Errorf("%s %s by the %s = %d", r.method, r.path, name, st)
			}
		}
	}
	// Joining by the link is open, and a participant may read.
	cn.join(t, nosy, call.ID, "Nick", client.Config{})
	for _, r := range reads {
		if st := nosy.do(r.method, r.path, nil, nil); st != 200 {
			t.Errorf("%s %s by a participant = %d", r.method, r.path, st)
		}
	}
	if st := nosy.do("POST", "/api/v1/calls/"+call.ID+"/invitations", invite, nil); st != 201 {
		t.Errorf("invitation by a participant = %d", st)
	}
}

// redeemLink accepts an invitation link as a guest named name.
func redeemLink(t *testing.T, tn *testNode, link, name string) *browser {
	t.Helper()
	g := tn.anon()
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if st := g.do("POST", "/api/v1/join/"+tokenOf(t, link), web.RedeemInput{AcceptTerms: true, Name: name,
		Kind: storage.UserGuestDesktop}, &out); st != 200 && st != 201 {
		t.Fatalf("redeem = %d", st)
	}
	g.csrf = out.CSRFToken
	return g
}

func (cn *callNode) inviteGuest(t *testing.T, b *browser, callID, name string) *browser {
	t.Helper()
	var inv web.InvitationOut
	if st := b.do("POST", "/api/v1/calls/"+callID+"/invitations", web.InviteInput{Channel: "link"}, &inv); st != 201 {
		t.Fatalf("invite = %d", st)
	}
	return redeemLink(t, cn.testNode, inv.Link, name)
}

// webSessionID is the stored id of a session cookie (web's hashSecret).
func webSessionID(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

func (cn *callNode) status(t *testing.T, callID string) string {
	t.Helper()
	s, err := cn.n.store.Session(context.Background(), callID)
	if err != nil {
		t.Fatal(err)
	}
	return s.Status
}

// Item 8: a call everyone left ends after the grace period (a rejoin
// within it keeps it), its end is in the history, and its guests' web
// sessions end; ending a call for all ends them too and closes the
// guests' sockets.
func TestEmptyCallEndsWithItsGuests(t *testing.T) {
	cn := startCallNodeWith(t, func(c *Config) { c.Media.EmptyCallGrace = 300 * time.Millisecond })
	ctx := context.Background()

	call := cn.createCall(t, cn.tech)
	guest := cn.inviteGuest(t, cn.tech, call.ID, "Gina")
	g := cn.join(t, guest, call.ID, "Gina", client.Config{})
	tech := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	_ = g.Close()
	_ = tech.Close()
	eventually(t, 10*time.Second, "the grace period to start", func() bool { return cn.n.calls.Graceful(call.ID) })
	tech = cn.join(t, cn.tech, call.ID, "Tom", client.Config{}) // a reload
	if cn.n.calls.Graceful(call.ID) {
		t.Fatal("a rejoin did not cancel the grace period")
	}
	if st := guest.do("GET", "/api/v1/calls/"+call.ID+"/chat", nil, nil); st != 200 {
		t.Fatalf("guest during the call = %d", st)
	}
	_ = tech.Close()
	eventually(t, 10*time.Second, "the emptied call to end", func() bool { return cn.status(t, call.ID) == storage.SessionEnded })
	evs, err := cn.n.store.SessionEvents(ctx, call.ID)
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Kind != storage.EventEnded {
		t.Fatalf("history of the emptied call = %+v, %v; want it to end with %s", evs, err, storage.EventEnded)
	}
	for _, path := range []string{"/chat", "/ice-servers", ""} {
		if st := guest.do("GET", "/api/v1/calls/"+call.ID+path, nil, nil); st != 401 {
			t.Errorf("guest's GET %s after the call ended = %d, want 401", path, st)
		}
	}
	guests, err := cn.n.store.SessionGuests(ctx, call.ID)
	if err != nil || len(guests) != 1 {
		t.Fatalf("guests = %+v, %v", guests, err)
	}
	// The end is written first (the guest is refused from then on), then
	// the guests' web sessions are deleted.
	eventually(t, 10*time.Second, "the guest's web session to end with the call", func() bool {
		_, err := cn.n.store.WebSession(ctx, webSessionID(guest.cookie))
		return errors.Is(err, storage.ErrNotFound)
	})

	// End for all: the guest is sent end, their socket closes and their
	// web session ends.
	call2 := cn.createCall(t, cn.tech)
	guest2 := cn.inviteGuest(t, cn.tech, call2.ID, "Gus")
	ctx2, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ws, err := cn.dial(ctx2, guest2, call2.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.Send(ctx2, signal.Message{V: 1, Type: signal.TypeJoin, ID: "j", Room: call2.ID}); err != nil {
		t.Fatal(err)
	}
	host := cn.join(t, cn.tech, call2.ID, "Tom", client.Config{})
	if err := host.Send(ctx2, signal.New(signal.TypeEnd)); err != nil {
		t.Fatal(err)
	}
	sawEnd := false
	for {
		m, err := ws.Recv(ctx2)
		if err != nil {
			if ctx2.Err() != nil {
				t.Fatal("the guest's socket stayed open after the call ended")
			}
			break
		}
		sawEnd = sawEnd || m.Type == signal.TypeEnd
	}
	if !sawEnd {
		t.Error("the guest was not sent end before the socket closed")
	}
	if st := guest2.do("GET", "/api/v1/calls/"+call2.ID+"/chat", nil, nil); st != 401 {
		t.Errorf("guest after end for all = %d, want 401", st)
	}
	if _, err := cn.n.store.WebSession(ctx, webSessionID(guest2.cookie)); err == nil {
		t.Error("the guest's web session outlived the call ended for all")
	}
}

// Item 18: chat and annotations are rate limited per participant; what
// goes over is refused with an error naming the limit and not written.
func TestChatAndAnnotationFloodsAreLimited(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	talker := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	const sent = 40
	// flood sends sent messages, then one that is always refused: the
	// participant's messages are handled in order, so once its refusal is
	// back, every refusal of the flood is too.
	flood := func(kind signal.Type, make func(i int) signal.Message) int {
		for i := 0; i < sent; i++ {
			m := make(i)
			m.ID = fmt.Sprintf("%s-%d", kind, i)
			if err := talker.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		sync := signal.New(signal.TypeICERestart)
		sync.ID, sync.Target = "sync-"+string(kind), signal.TargetPublish
		if err := talker.Send(ctx, sync); err != nil {
			t.Fatal(err)
		}
		nextEvent(t, talker, "the refusal after the "+string(kind)+" flood", func(m signal.Message) bool { return m.ID == sync.ID })
		refused := 0
		for _, m := range talker.Seen() {
			if m.Type != signal.TypeError || !strings.HasPrefix(m.ID, string(kind)+"-") {
				continue
			}
			if m.Code != signal.CodeLimit || !strings.Contains(m.Error, "a second") {
				t.Fatalf("refusal = %+v, want code %s naming the rate", m, signal.CodeLimit)
			}
			refused++
		}
		return refused
	}
	refused := flood(signal.TypeChat, func(i int) signal.Message {
		m := signal.New(signal.TypeChat)
		m.Text = "spam"
		return m
	})
	if refused == 0 {
		t.Fatalf("%d chat messages at once were all accepted", sent)
	}
	eventually(t, 10*time.Second, "the accepted chat in the history", func() bool {
		evs, err := cn.n.store.SessionEvents(context.Background(), call.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Kind == storage.EventChat {
				n++
			}
		}
		if n > sent-refused {
			t.Fatalf("%d chat events written, %d refused of %d", n, refused, sent)
		}
		return n == sent-refused
	})
	refused = flood(signal.TypeAnnotate, func(i int) signal.Message {
		m := signal.New(signal.TypeAnnotate)
		m.Media = &signal.Media{ID: "snap"}
		m.Stroke = &signal.Stroke{ID: "s" + string(rune('A'+i)), Tool: "circle", Color: "#ff0000", Width: 0.01,
			Points: [][2]float64{{0.1, 0.1}, {0.2, 0.2}}}
		return m
	})
	if refused == 0 {
		t.Fatalf("%d annotations at once were all accepted", sent)
	}
}

// Item 19: a call takes media.max_participants, a user starts at most
// media.max_active_calls open calls.
func TestCallAndParticipantCaps(t *testing.T) {
	cn := startCallNodeWith(t, func(c *Config) { c.Media.MaxParticipants, c.Media.MaxActiveCalls = 2, 2 })
	call := cn.createCall(t, cn.tech)
	cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	_, third := cn.user(t, "third@plant.example", "Thea Third", "regular")
	_, err := cn.tryJoin(t, third, call.ID, client.JoinOptions{})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != signal.CodeLimit || !strings.Contains(e.Message, "2 participants") {
		t.Fatalf("third join = %v, want a limit error naming 2 participants", err)
	}

	cn.createCall(t, cn.tech) // the second open call
	var body web.ErrorBody
	if st := cn.tech.do("POST", "/api/v1/calls", web.CallInput{Name: "one too many"}, &body); st != 409 ||
		!strings.Contains(body.Error, "media.max_active_calls") {
		t.Fatalf("third open call = %d %+v, want 409 naming media.max_active_calls", st, body)
	}
	if st := cn.admin.do("POST", "/api/v1/calls", web.CallInput{Name: "someone else's"}, nil); st != 201 {
		t.Fatalf("another user's call = %d", st)
	}
}

// Item 21: the names a call shows come from the accounts, a guest's
// marked as a guest's, whatever the join message says.
func TestCallNamesComeFromTheAccount(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	watcher := cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	cn.join(t, cn.tech, call.ID, "The Administrator", client.Config{})
	if m := nextEvent(t, watcher, "tech joins", ofType(signal.TypeParticipantJoined)); m.Peer.Name != "Tom Tech" {
		t.Errorf("tech shown as %q, want Tom Tech", m.Peer.Name)
	}
	guest := cn.inviteGuest(t, cn.tech, call.ID, "Gina")
	g := cn.join(t, guest, call.ID, "Tom Tech", client.Config{})
	if m := nextEvent(t, watcher, "the guest joins", ofType(signal.TypeParticipantJoined)); m.Peer.Name != "Gina (guest)" {
		t.Errorf("guest shown as %q, want Gina (guest)", m.Peer.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := g.Chat(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if m := nextEvent(t, watcher, "the guest's chat", ofType(signal.TypeChat)); m.Name != "Gina (guest)" {
		t.Errorf("guest's chat signed %q", m.Name)
	}
	ps, err := cn.n.store.SessionParticipants(ctx, call.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.DisplayName == "The Administrator" || p.DisplayName == "Tom Tech" && strings.HasPrefix(p.UserID, web.GuestIDPrefix) {
			t.Errorf("participant %s recorded as %q", p.UserID, p.DisplayName)
		}
	}
}

// Item 22: publishing a screen share needs xa_icall_screen-share.
func TestScreenShareNeedsItsPermission(t *testing.T) {
	cn := startCallNode(t)
	if st := cn.admin.do("POST", "/api/v1/policy/revoke", web.GrantInput{Subject: "role:regular", Permission: policy.CallScreenShare}, nil); st != 200 {
		t.Fatalf("revoke screen-share = %d", st)
	}
	call := cn.createCall(t, cn.tech)
	tech := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := tech.Publish(ctx, client.TrackSpec{Kind: "video", ID: "screen", Screen: true})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != signal.CodeForbidden || e.Permission != policy.CallScreenShare {
		t.Fatalf("screen share without the permission = %v, want forbidden naming %s", err, policy.CallScreenShare)
	}
	// The administrator holds it.
	admin := cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	if _, err := admin.Publish(ctx, client.TrackSpec{Kind: "video", ID: "screen", Screen: true}); err != nil {
		t.Fatalf("screen share with the permission: %v", err)
	}
	waitTrack(t, tech, admin.ID(), "video")
}
