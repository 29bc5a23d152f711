package node

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"siteline/media/client"
	"siteline/node/invites"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// clock is a settable clock for a node.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)} }

// inviteNode is a node on a settable clock with a regular user.
type inviteNode struct {
	*callNode
	clock *clock
}

func startInviteNode(t *testing.T, mutate func(*Config)) *inviteNode {
	t.Helper()
	cfg := testConfig(t, shortTempDir(t))
	if mutate != nil {
		mutate(&cfg)
	}
	clk := newClock()
	tn := startNodeWith(t, cfg, Options{Now: clk.Now})
	admin := tn.admin()
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Name: "Tom Tech",
		Password: "tech's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create tech = %d", st)
	}
	return &inviteNode{callNode: &callNode{testNode: tn, admin: admin, tech: tn.login("tech@plant.example", "tech's password 1")}, clock: clk}
}

func (in *inviteNode) invite(t *testing.T, b *browser, callID string, body web.InviteInput) web.InvitationOut {
	t.Helper()
	var out web.InvitationOut
	if st := b.do("POST", "/api/v1/calls/"+callID+"/invitations", body, &out); st != 201 {
		t.Fatalf("invite = %d", st)
	}
	return out
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	i := strings.LastIndex(link, "/join/")
	if i < 0 {
		t.Fatalf("link %q has no /join/", link)
	}
	return link[i+len("/join/"):]
}

// inspect returns the status and reason of GET /api/v1/join/:token.
func (in *inviteNode) inspect(t *testing.T, token string) (int, string) {
	t.Helper()
	var e web.ErrorBody
	st := in.anon().do("GET", "/api/v1/join/"+token, nil, &e)
	return st, strings.TrimPrefix(e.Code, "link_")
}

// redeem accepts the terms as a guest and returns the guest's browser.
func (in *inviteNode) redeem(t *testing.T, token string, kind storage.UserKind) (*browser, int, string) {
	t.Helper()
	g := in.anon()
	var out struct {
		CallID    string `json:"call_id"`
		CSRFToken string `json:"csrf_token"`
		Code      string `json:"code"`
	}
	st := g.do("POST", "/api/v1/join/"+token, web.RedeemInput{AcceptTerms: true, Name: "Gina Guest", Kind: kind}, &out)
	g.csrf = out.CSRFToken
	return g, st, out.CallID
}

func TestInvitationConferenceLink(t *testing.T) {
	in := startInviteNode(t, nil)
	call := in.createCall(t, in.tech)
	inv := in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "link"})
	if inv.Link == "" || !strings.HasPrefix(inv.QRCode, "data:image/png;base64,") || inv.DeepLink != "siteline://join/"+tokenOf(t, inv.Link) {
		t.Fatalf("invitation = %+v", inv)
	}
	token := tokenOf(t, inv.Link)
	if len(token) != 43 {
		t.Fatalf("token %q: want 256 bits in base64url", token)
	}
	// Only the hash is stored.
	stored, err := in.n.store.Invitation(context.Background(), inv.ID)
	if err != nil || len(stored.TokenHash) != 32 || strings.Contains(string(stored.TokenHash), token) {
		t.Fatalf("stored = %+v, %v", stored, err)
	}

	// The page: terms, device kind, the app's deep link on phones and in
	// the app only, no referrer.
	for _, tc := range []struct{ ua, want, not string }{
		{"Mozilla/5.0 (X11; Linux x86_64) Chrome/130", `value="guest_desktop"`, "siteline://"},
		{"Mozilla/5.0 (Linux; Android 14) Mobile Safari", "siteline://join/" + token, "Continue in the Siteline app"},
		{"SitelineApp/1.0 (iOS)", "Continue in the Siteline app", "Open this call in the app"},
	} {
		req, _ := http.NewRequest("GET", in.url+"/join/"+token, nil)
		req.Header.Set("User-Agent", tc.ua)
		req.Header.Set("Accept", "text/html")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(string(body), tc.want) ||
			strings.Contains(string(body), tc.not) || !strings.Contains(string(body), "terms of use") {
			t.Fatalf("join page for %q = %d %q:\n%s", tc.ua, resp.StatusCode, resp.Header.Get("Referrer-Policy"), body)
		}
	}

	// Malformed and forged links: 404, saying which; nothing is created.
	if st, why := in.inspect(t, "short"); st != 404 || why != "malformed" {
		t.Fatalf("malformed = %d %s", st, why)
	}
	forged := strings.Repeat("A", 43)
	if st, why := in.inspect(t, forged); st != 404 || why != "unknown" {
		t.Fatalf("forged = %d %s", st, why)
	}
	if _, st, _ := in.redeem(t, forged, storage.UserGuestDesktop); st != 404 {
		t.Fatalf("redeem forged = %d", st)
	}

	// Terms must be accepted.
	var e web.ErrorBody
	if st := in.anon().do("POST", "/api/v1/join/"+token, web.RedeemInput{Name: "Gina", Kind: storage.UserGuestDesktop}, &e); st != 400 {
		t.Fatalf("redeem without terms = %d %+v", st, e)
	}

	in.clock.Add(time.Minute)
	guest, st, callID := in.redeem(t, token, storage.UserGuestMobile)
	if st != 201 || callID != call.ID || guest.cookie == "" {
		t.Fatalf("redeem = %d %q", st, callID)
	}
	// The acceptance, its time and the terms version are recorded.
	ta, err := in.n.store.TermsAcceptances(context.Background(), inv.ID)
	if err != nil || len(ta) != 1 || ta[0].TermsVersion != invites.TermsVersion || !ta[0].AcceptedAt.Equal(in.clock.Now()) {
		t.Fatalf("terms acceptances = %+v, %v", ta, err)
	}
	// The guest is in its call ...
	var got storage.Session
	if st := guest.do("GET", "/api/v1/calls/"+call.ID, nil, &got); st != 200 || got.ID != call.ID {
		t.Fatalf("guest gets own call = %d", st)
	}
	// ... and the link is used up.
	if st, why := in.inspect(t, token); st != 410 || why != "used" {
		t.Fatalf("reused = %d %s", st, why)
	}
	if _, st, _ := in.redeem(t, token, storage.UserGuestDesktop); st != 410 {
		t.Fatalf("redeem again = %d", st)
	}
	// The dead-link page says why, with no referrer.
	req, _ := http.NewRequest("GET", in.url+"/join/"+token, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 410 || resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(string(body), "already been used") {
		t.Fatalf("dead page = %d:\n%s", resp.StatusCode, body)
	}

	// Revocation.
	inv2 := in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "link"})
	if st := in.tech.do("DELETE", "/api/v1/invitations/"+inv2.ID, nil, nil); st != 204 {
		t.Fatalf("revoke = %d", st)
	}
	if st, why := in.inspect(t, tokenOf(t, inv2.Link)); st != 410 || why != "revoked" {
		t.Fatalf("revoked = %d %s", st, why)
	}
	if st := in.tech.do("DELETE", "/api/v1/invitations/"+inv2.ID, nil, nil); st != 409 {
		t.Fatalf("revoke twice = %d", st)
	}
	var list []web.InvitationOut
	if st := in.tech.do("GET", "/api/v1/invitations", nil, &list); st != 200 || len(list) != 2 || list[0].State != "revoked" || list[1].State != "used" {
		t.Fatalf("list = %d %+v", st, list)
	}

	// The call ends: a fresh link is dead, and the guest is out.
	inv3 := in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "link"})
	if st, _ := in.inspect(t, tokenOf(t, inv3.Link)); st != 200 {
		t.Fatalf("before the call ends = %d", st)
	}
	endCall(t, in.n, call.ID)
	if st, why := in.inspect(t, tokenOf(t, inv3.Link)); st != 410 || why != "call_ended" {
		t.Fatalf("after the call ended = %d %s", st, why)
	}
	if _, st, _ := in.redeem(t, tokenOf(t, inv3.Link), storage.UserGuestDesktop); st != 410 {
		t.Fatalf("redeem after end = %d", st)
	}
	if st := guest.do("GET", "/api/v1/calls/"+call.ID, nil, nil); st != 401 {
		t.Fatalf("guest after the call ended = %d", st)
	}
}

func endCall(t *testing.T, n *Node, callID string) {
	t.Helper()
	now := n.now().UTC()
	if err := n.store.EndSession(context.Background(), callID, now, storage.SessionEvent{ID: newID(), SessionID: callID,
		At: now, Kind: storage.EventEnded, ActorID: "test"}); err != nil {
		t.Fatal(err)
	}
}

func TestInvitationDeadWhenEveryoneElseLeft(t *testing.T) {
	in := startInviteNode(t, nil)
	ctx := context.Background()
	call := in.createCall(t, in.tech)
	// Two participants in the call, written as the call service does.
	var pids []string
	for _, u := range []string{"u1", "u2"} {
		pid := newID()
		now := in.clock.Now()
		if err := in.n.store.RecordJoin(ctx, storage.SessionParticipant{ID: pid, SessionID: call.ID, UserID: u, JoinedAt: now},
			storage.SessionEvent{ID: newID(), SessionID: call.ID, At: now, Kind: storage.EventJoined}); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	in.clock.Add(time.Minute)
	inv := in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "link"})
	token := tokenOf(t, inv.Link)
	leave := func(pid string) {
		in.clock.Add(time.Minute)
		now := in.clock.Now()
		if err := in.n.store.RecordLeave(ctx, pid, now, storage.SessionEvent{ID: newID(), SessionID: call.ID, At: now, Kind: storage.EventLeft}); err != nil {
			t.Fatal(err)
		}
	}
	leave(pids[0])
	if st, _ := in.inspect(t, token); st != 200 {
		t.Fatalf("one of two left = %d", st)
	}
	leave(pids[1])
	if st, why := in.inspect(t, token); st != 410 || why != "everyone_left" {
		t.Fatalf("all others left = %d %s", st, why)
	}
	if _, st, _ := in.redeem(t, token, storage.UserGuestDesktop); st != 410 {
		t.Fatalf("redeem = %d", st)
	}
	if g, err := in.n.store.Invitation(ctx, inv.ID); err != nil || g.UsedAt != nil {
		t.Fatalf("a dead link created something: %+v %v", g, err)
	}
}

func TestServiceRequestLink(t *testing.T) {
	in := startInviteNode(t, nil)
	start := in.clock.Now()
	var early, late web.InvitationOut
	for _, out := range []*web.InvitationOut{&early, &late} {
		if st := in.tech.do("POST", "/api/v1/service-requests", web.ServiceRequestInput{
			InviteInput: web.InviteInput{Channel: "link", Name: "Carl Customer"}, Subject: "Press 7 jammed"}, out); st != 201 {
			t.Fatalf("create service request = %d", st)
		}
	}
	in.clock.Set(start.Add(23*time.Hour + 59*time.Minute))
	in.tech = in.login("tech@plant.example", "tech's password 1") // the old session idled out
	if st, _ := in.inspect(t, tokenOf(t, late.Link)); st != 200 {
		t.Fatalf("at 23h59 = %d", st)
	}
	guest, st, callID := in.redeem(t, tokenOf(t, early.Link), storage.UserGuestDesktop)
	if st != 201 || callID == "" {
		t.Fatalf("open at 23h59 = %d", st)
	}
	in.clock.Set(start.Add(24*time.Hour + time.Minute))
	if st, why := in.inspect(t, tokenOf(t, late.Link)); st != 410 || why != "expired" {
		t.Fatalf("at 24h01 = %d %s", st, why)
	}
	if _, st, _ := in.redeem(t, tokenOf(t, late.Link), storage.UserGuestDesktop); st != 410 {
		t.Fatalf("open at 24h01 = %d", st)
	}

	// Opening created a call that rings the expert; nobody answered, and it
	// is still on the expert's list, joinable.
	var open []storage.Session
	if st := in.tech.do("GET", "/api/v1/service-requests/calls", nil, &open); st != 200 || len(open) != 1 || open[0].ID != callID ||
		open[0].Status != storage.SessionRinging || open[0].Name != "Press 7 jammed" || open[0].Kind != storage.SessionServiceRequest {
		t.Fatalf("expert's open service requests = %d %+v", st, open)
	}
	in.clock.Add(3 * time.Hour) // unanswered for hours: still joinable
	if st := in.tech.do("GET", "/api/v1/calls/"+callID+"/ice-servers", nil, nil); st != 200 {
		t.Fatalf("expert may join = %d", st)
	}
	expert := in.join(t, in.tech, callID, "Tom", client.Config{})
	_ = expert
	parts, err := in.n.store.SessionParticipants(context.Background(), callID)
	if err != nil || len(parts) != 1 || parts[0].UserKind != storage.UserRegular {
		t.Fatalf("participants = %+v %v", parts, err)
	}
	if st := guest.do("GET", "/api/v1/calls/"+callID, nil, nil); st != 200 {
		t.Fatalf("caller sees own call = %d", st)
	}
	// The caller ends it: the expert can no longer join.
	endCall(t, in.n, callID)
	if st := in.tech.do("GET", "/api/v1/calls/"+callID+"/ice-servers", nil, nil); st != 409 {
		t.Fatalf("expert joins an ended call = %d", st)
	}
	if st := in.tech.do("GET", "/api/v1/service-requests/calls", nil, &open); st != 200 || len(open) != 0 {
		t.Fatalf("after the end = %d %+v", st, open)
	}
}

// specIDs are the 19 permission ids of the SPEC.md section 5 table.
func specIDs() []string {
	var ids []string
	for _, p := range policy.All() {
		switch p.Area {
		case policy.AreaStartPage, policy.AreaAssist, policy.AreaOutside:
			ids = append(ids, p.ID)
		}
	}
	return ids
}

func TestGuestDeniedOutsideTheCall(t *testing.T) {
	in := startInviteNode(t, nil)
	call := in.createCall(t, in.tech)
	other := in.createCall(t, in.tech)
	ids := specIDs()
	if len(ids) != 19 {
		t.Fatalf("SPEC table has %d ids here, want 19", len(ids))
	}
	for _, kind := range []storage.UserKind{storage.UserGuestApp, storage.UserGuestMobile, storage.UserGuestDesktop} {
		t.Run(string(kind), func(t *testing.T) {
			inv := in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "link"})
			guest, st, _ := in.redeem(t, tokenOf(t, inv.Link), kind)
			if st != 201 {
				t.Fatalf("redeem = %d", st)
			}
			var guestID string
			for _, p := range mustGuests(t, in, call.ID) {
				if p.Kind == kind {
					guestID = p.ID
				}
			}
			a, err := in.n.invites.GuestActor(context.Background(), guestID)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				for _, g := range a.Grants {
					if g == id {
						t.Errorf("guest holds %s", id)
					}
				}
			}
			if len(a.Grants) == 0 {
				t.Fatal("guest holds no in-call permission")
			}
			// Every API route outside the guest's call refuses, naming the
			// permission.
			var doc struct {
				Paths map[string]map[string]struct {
					Permission string `json:"x-permission"`
				} `json:"paths"`
			}
			if st := in.anon().do("GET", "/api/v1/openapi.json", nil, &doc); st != 200 {
				t.Fatalf("openapi = %d", st)
			}
			seen := map[string]bool{}
			checked := 0
			for path, ops := range doc.Paths {
				for method, op := range ops {
					want := op.Permission
					if want == "" {
						want = policy.OutsideTheCall
					}
					p := strings.ReplaceAll(path, "{id}", other.ID) // another call, or any id
					p = regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(p, "x")
					if isPublic(path) {
						continue
					}
					status, body := guest.raw(strings.ToUpper(method), p, "application/json", strings.NewReader("{}"))
					if strings.HasPrefix(path, "/scim/") {
						// SCIM takes its organisation's bearer token, never
						// a browser's session.
						if status != 401 {
							t.Errorf("%s %s as %s = %d, want 401: SCIM needs its bearer token", method, p, kind, status)
						}
						continue
					}
					e := apiError(t, body)
					if status != 403 || e.Permission != want {
						t.Errorf("%s %s as %s = %d %+v, want 403 naming %s", method, p, kind, status, e, want)
					}
					seen[want] = true
					checked++
				}
			}
			for _, id := range ids {
				if id != policy.OutsideTheCall && !seen[id] && routeNeeds(doc.Paths, id) {
					t.Errorf("%s: no refusal seen", id)
				}
			}
			// The backoffice pages refuse too.
			for _, p := range []string{"/", "/users", "/teams", "/labels", "/contacts", "/account", "/audit", "/policy", "/cluster"} {
				status, body := guest.raw("GET", p, "", nil)
				if status != 403 || apiError(t, body).Permission == "" {
					t.Errorf("GET %s as guest = %d %s", p, status, body)
				}
			}
			if checked < 30 {
				t.Fatalf("only %d routes checked", checked)
			}
		})
	}
}

func routeNeeds(paths map[string]map[string]struct {
	Permission string `json:"x-permission"`
}, id string) bool {
	for _, ops := range paths {
		for _, op := range ops {
			if op.Permission == id {
				return true
			}
		}
	}
	return false
}

func isPublic(path string) bool {
	switch path {
	case "/api/v1/version", "/api/v1/openapi.json", "/api/v1/session", "/api/v1/join/{token}", "/api/v1/cluster/join":
		return true
	}
	// Single sign-on's endpoints are where anyone starts a login or an
	// identity provider answers.
	return strings.HasPrefix(path, "/sso/")
}

func mustGuests(t *testing.T, in *inviteNode, callID string) []storage.Guest {
	t.Helper()
	invs, err := in.n.store.Invitations(context.Background(), in.n.orgID, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.Guest
	for _, inv := range invs {
		if inv.UsedAt == nil || inv.SessionID != callID {
			continue
		}
		// Guests are found through their terms acceptance.
		ta, err := in.n.store.TermsAcceptances(context.Background(), inv.ID)
		if err != nil || len(ta) != 1 {
			t.Fatalf("terms of %s: %+v %v", inv.ID, ta, err)
		}
		g, err := in.n.store.Guest(context.Background(), ta[0].UserID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	return out
}

// ---- e-mail ---------------------------------------------------------------

// mailbox is an SMTP backend that keeps what it receives and refuses the
// first failures messages with a temporary error.
type mailbox struct {
	mu       sync.Mutex
	failures int
	got      []received
}

type received struct {
	from string
	to   []string
	data []byte
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: m}, nil }

func (m *mailbox) messages() []received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]received(nil), m.got...)
}

type mailSession struct {
	box  *mailbox
	from string
	to   []string
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	if s.box.failures > 0 {
		s.box.failures--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox busy, try later"}
	}
	s.box.got = append(s.box.got, received{from: s.from, to: s.to, data: data})
	return nil
}
func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

func startSMTP(t *testing.T, box *mailbox) (host string, port int) {
	t.Helper()
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	return "127.0.0.1", addr.Port
}

// plainBody returns the subject and the text/plain part of a message.
func plainBody(t *testing.T, data []byte) (subject, text, html string) {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("content type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = p
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			r = quotedprintable.NewReader(p) // multipart may have decoded it already
		}
		b, _ := io.ReadAll(r)
		ct := p.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "text/plain"):
			text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			html = string(b)
		}
	}
	return subject, text, html
}

func TestInvitationByEmail(t *testing.T) {
	box := &mailbox{}
	host, port := startSMTP(t, box)
	in := startInviteNode(t, func(c *Config) {
		c.Mail = MailConfig{SMTPHost: host, SMTPPort: port, From: "siteline@plant.example", TLS: "off"}
	})
	call := in.createCall(t, in.tech)
	inv := in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "email", To: "Guest@Example.com", Name: "Gina"})
	if len(inv.Deliveries) != 1 || inv.Deliveries[0].Status != storage.DeliverySent {
		t.Fatalf("deliveries = %+v", inv.Deliveries)
	}
	msgs := box.messages()
	if len(msgs) != 1 || len(msgs[0].to) != 1 || msgs[0].to[0] != "guest@example.com" || msgs[0].from != "siteline@plant.example" {
		t.Fatalf("received = %+v", msgs)
	}
	subject, text, html := plainBody(t, msgs[0].data)
	if subject != "Tom Tech invites you to a Siteline call" || html == "" {
		t.Fatalf("subject %q, html %q", subject, html)
	}
	link := regexp.MustCompile(`https?://\S+/join/[A-Za-z0-9_-]{43}`).FindString(text)
	if link == "" || !strings.Contains(html, link) {
		t.Fatalf("no link in the body:\n%s", text)
	}
	// The link in the mail works.
	if st, _ := in.inspect(t, tokenOf(t, link)); st != 200 {
		t.Fatalf("link from the mail = %d", st)
	}
	if _, st, cid := in.redeem(t, tokenOf(t, link), storage.UserGuestDesktop); st != 201 || cid != call.ID {
		t.Fatalf("redeem link from the mail = %d", st)
	}
}

func TestInvitationEmailRetried(t *testing.T) {
	box := &mailbox{failures: 2}
	host, port := startSMTP(t, box)
	in := startInviteNode(t, func(c *Config) {
		c.Mail = MailConfig{SMTPHost: host, SMTPPort: port, From: "siteline@plant.example", TLS: "off"}
	})
	call := in.createCall(t, in.tech)
	inv := in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "email", To: "guest@example.com"})
	d := inv.Deliveries[0]
	// The failure is in the answer, and on the list.
	if d.Status != storage.DeliveryPending || d.Attempts != 1 || !strings.Contains(d.LastError, "mailbox busy") {
		t.Fatalf("first attempt = %+v", d)
	}
	delivery := func() storage.Delivery {
		var list []web.InvitationOut
		if st := in.tech.do("GET", "/api/v1/invitations", nil, &list); st != 200 || len(list) != 1 || len(list[0].Deliveries) != 1 {
			t.Fatalf("list = %d %+v", st, list)
		}
		return list[0].Deliveries[0]
	}
	if got := delivery(); got.Status != storage.DeliveryPending || got.LastError == "" {
		t.Fatalf("listed = %+v", got)
	}
	// Not due yet: nothing is retried.
	in.n.invites.RetryDue(context.Background())
	if got := delivery(); got.Attempts != 1 {
		t.Fatalf("retried before due: %+v", got)
	}
	// After the backoff the chore retries: fails once more, then sends.
	in.clock.Add(invites.FirstRetry)
	in.n.invites.Kick()
	eventually(t, 10*time.Second, "second attempt", func() bool { return delivery().Attempts == 2 })
	in.clock.Add(2 * invites.FirstRetry)
	in.n.invites.Kick()
	eventually(t, 10*time.Second, "sent", func() bool { return delivery().Status == storage.DeliverySent })
	if got := delivery(); got.Attempts != 3 || got.LastError != "" || len(box.messages()) != 1 {
		t.Fatalf("after retries = %+v, %d messages", got, len(box.messages()))
	}
	if ds, err := in.n.store.Deliveries(context.Background(), inv.ID); err != nil || len(ds) != 1 || ds[0].Sealed != nil {
		t.Fatalf("sealed link kept after sending: %+v %v", ds, err)
	}
}

func TestInviteConfigNamesKey(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*Config)
		key    string
	}{
		{func(c *Config) { c.Mail.TLS = "maybe" }, "mail.tls"},
		{func(c *Config) { c.Mail.SMTPPort = 0 }, "mail.smtp_port"},
		{func(c *Config) { c.Mail.SMTPHost = "smtp.example:25" }, "mail.smtp_host"},
		{func(c *Config) { c.Mail.SMTPHost = "smtp.example" }, "mail.from"},
		{func(c *Config) { c.Mail.Username = "u" }, "mail.password"},
		{func(c *Config) { c.SMS.Provider = "pigeon" }, "sms.provider"},
		{func(c *Config) { c.SMS.Provider = "webhook" }, "sms.webhook_url"},
	} {
		cfg := Default()
		tc.mutate(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "config "+tc.key+":") {
			t.Errorf("%s: %v", tc.key, err)
		}
	}
}
