package invites

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/node/internal/usecase"
	"siteline/policy"
	"siteline/storage"
	"siteline/storage/sqlite"
	"siteline/web"
)

func at(base time.Time, d time.Duration) *time.Time { t := base.Add(d); return &t }

func TestInviteLinkValidityRules(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	open := &storage.Session{Status: storage.SessionActive}
	ended := &storage.Session{Status: storage.SessionEnded}
	conf := storage.Invitation{Kind: storage.SessionConference, CreatedAt: t0}
	svc := storage.Invitation{Kind: storage.SessionServiceRequest, CreatedAt: t0, ExpiresAt: at(t0, ServiceRequestTTL)}
	host := storage.SessionParticipant{JoinedAt: t0.Add(-time.Minute)}
	hostLeft := storage.SessionParticipant{JoinedAt: t0.Add(-time.Minute), LeftAt: at(t0, 10*time.Minute)}
	other := storage.SessionParticipant{JoinedAt: t0.Add(time.Minute), LeftAt: at(t0, 20*time.Minute)}
	rejoin := storage.SessionParticipant{JoinedAt: t0.Add(30 * time.Minute)}
	revoked, used := conf, conf
	revoked.RevokedAt, used.UsedAt = at(t0, time.Minute), at(t0, time.Minute)
	tests := []struct {
		name  string
		inv   storage.Invitation
		call  *storage.Session
		parts []storage.SessionParticipant
		now   time.Time
		want  string // "" = valid, else the reason
	}{
		{"conference, call running", conf, open, []storage.SessionParticipant{host}, t0.Add(time.Hour), ""},
		{"conference, nobody joined yet", conf, open, nil, t0.Add(time.Hour), ""},
		{"conference, call ended", conf, ended, []storage.SessionParticipant{host}, t0.Add(time.Hour), "call_ended"},
		{"conference, one of two left", conf, open, []storage.SessionParticipant{host, other}, t0.Add(15 * time.Minute), ""},
		{"conference, before the last left", conf, open, []storage.SessionParticipant{hostLeft, other}, t0.Add(19 * time.Minute), ""},
		{"conference, after all others left", conf, open, []storage.SessionParticipant{hostLeft, other}, t0.Add(21 * time.Minute), "everyone_left"},
		{"conference, dead even after a rejoin", conf, open, []storage.SessionParticipant{hostLeft, other, rejoin}, t0.Add(40 * time.Minute), "everyone_left"},
		{"service request at 23h59", svc, nil, nil, t0.Add(23*time.Hour + 59*time.Minute), ""},
		{"service request at 24h00", svc, nil, nil, t0.Add(24 * time.Hour), "expired"},
		{"service request at 24h01", svc, nil, nil, t0.Add(24*time.Hour + time.Minute), "expired"},
		{"revoked", revoked, open, nil, t0.Add(time.Hour), "revoked"},
		{"used", used, open, nil, t0.Add(time.Hour), "used"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := linkValidity(tc.inv, tc.call, tc.parts, tc.now)
			var dl *web.DeadLinkError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (!errors.As(err, &dl) || dl.Reason != tc.want):
				t.Fatalf("want %s, got %v", tc.want, err)
			}
		})
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fakeCalls answers for the calls in the store: open unless ended, and
// readable by the users in mayRead.
type fakeCalls struct {
	store   *sqlite.Store
	mayRead map[string]bool
}

func (f fakeCalls) OpenCall(ctx context.Context, _ web.Actor, id string) (storage.Session, error) {
	s, err := f.store.Session(ctx, id)
	if err == nil && s.Status == storage.SessionEnded {
		err = storage.ErrConflict
	}
	return s, err
}

func (f fakeCalls) MayRead(_ context.Context, a web.Actor, _ storage.Session) error {
	if f.mayRead[a.UserID] {
		return nil
	}
	return &storage.ForbiddenError{Permission: policy.SeeAllCallLogs}
}

// ringer keeps the calls rung.
type ringer struct {
	mu   sync.Mutex
	rung []string
}

func (r *ringer) Ring(s storage.Session, caller string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rung = append(r.rung, s.ID+" by "+caller)
}

// rules is a fixed policy.
type rules []storage.PolicyRule

func (r rules) Rules(string) []storage.PolicyRule { return r }

// sender is an SMS gateway and mailbox that refuses while failures last.
type sender struct {
	mu       sync.Mutex
	failures int
	sent     []string // recipient: text
}

func (s *sender) send(to, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return errors.New("gateway busy")
	}
	s.sent = append(s.sent, to+": "+text)
	return nil
}

func (s *sender) SendSMS(_ context.Context, to, text string) error { return s.send(to, text) }

func (s *sender) SendMail(_ context.Context, to, _, text, _ string) error { return s.send(to, text) }

func (s *sender) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.sent) }

type fixture struct {
	svc    *Service
	store  *sqlite.Store
	clock  *clock
	ring   *ringer
	sender *sender
	call   storage.Session
	tech   web.Actor
}

// newFixture builds the service on a store in a temporary directory, with
// an open call that the user "tech" may invite into.
func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "siteline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, clock: &clock{t: time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)}, ring: &ringer{},
		sender: &sender{}, tech: web.Actor{UserID: "u-tech", OrgID: "o1", Name: "Tom Tech"}}
	f.call = storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", Kind: storage.SessionConference,
		Status: storage.SessionActive, CreatedBy: "u-tech", Name: "Press 7", StartedAt: f.clock.Now()}
	if err := st.CreateSession(ctx, f.call); err != nil {
		t.Fatal(err)
	}
	cfg := Config{OrgID: "o1", SiteID: "s1", EmailsPerUserPerHour: 3, EmailsPerOrgPerHour: 5,
		OutboxKeyPath: filepath.Join(dir, "outbox.key")}
	if mutate != nil {
		mutate(&cfg)
	}
	guest := policy.RoleSubject(policy.GuestRole(storage.UserGuestDesktop))
	f.svc, err = New(cfg, Deps{
		Store: st,
		Calls: fakeCalls{store: st, mayRead: map[string]bool{"u-tech": true}},
		Ring:  f.ring,
		Rules: rules{
			{OrgID: "o1", PType: policy.PTypeGrant, V: []string{guest, "o1", policy.CallShareFiles}},
			{OrgID: "o1", PType: policy.PTypeGrant, V: []string{guest, "o1", policy.SeeAllCallLogs}},
		},
		Audit:  usecase.Auditor{Store: st, OrgID: "o1", SiteID: "s1", Now: f.clock.Now},
		URL:    func() string { return "https://plant.example" },
		Now:    f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Mail:   f.sender,
		SMS:    f.sender,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func token(t *testing.T, out web.InvitationOut) string {
	t.Helper()
	tok, ok := strings.CutPrefix(out.Link, "https://plant.example/join/")
	if !ok || len(tok) != tokenLen {
		t.Fatalf("link %q is not a join link", out.Link)
	}
	return tok
}

func deadReason(err error) string {
	var dl *web.DeadLinkError
	if errors.As(err, &dl) {
		return dl.Reason
	}
	return ""
}

var redeem = web.RedeemInput{Name: "Gina", AcceptTerms: true, Kind: storage.UserGuestDesktop}

func TestInviteLinkIsUsedOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	out, err := f.svc.InviteToCall(ctx, f.tech, f.call.ID, web.InviteInput{Name: "Gina"})
	if err != nil {
		t.Fatal(err)
	}
	if out.State != "open" || len(out.Deliveries) != 0 || !strings.HasPrefix(out.QRCode, "data:image/png;base64,") {
		t.Fatalf("invitation = %+v", out)
	}
	tok := token(t, out)
	info, err := f.svc.Inspect(ctx, tok)
	if err != nil || info.CallName != "Press 7" || info.TermsVersion != TermsVersion {
		t.Fatalf("inspect = %+v, %v", info, err)
	}
	g, err := f.svc.Redeem(ctx, tok, redeem)
	if err != nil || g.SessionID != f.call.ID || !strings.HasPrefix(g.ID, web.GuestIDPrefix) {
		t.Fatalf("redeem = %+v, %v", g, err)
	}
	if _, err := f.svc.Redeem(ctx, tok, redeem); deadReason(err) != "used" {
		t.Fatalf("second redeem = %v, want a used link", err)
	}
	if _, err := f.svc.Inspect(ctx, tok); deadReason(err) != "used" {
		t.Fatalf("inspect after use = %v, want a used link", err)
	}
	list, err := f.svc.Invitations(ctx, f.tech)
	if err != nil || len(list) != 1 || list[0].State != "used" {
		t.Fatalf("list = %+v, %v", list, err)
	}
}

func TestInviteLinkMalformedOrUnknown(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	unknown, _ := newToken()
	for tok, want := range map[string]string{
		"":                              "malformed",
		"short":                         "malformed",
		unknown[:42] + "!":              "malformed",
		unknown:                         "unknown",
		strings.Repeat("A", tokenLen+1): "malformed",
	} {
		if _, err := f.svc.Inspect(ctx, tok); deadReason(err) != want {
			t.Errorf("inspect %q = %v, want %s", tok, err, want)
		}
		if _, err := f.svc.Redeem(ctx, tok, redeem); deadReason(err) != want {
			t.Errorf("redeem %q = %v, want %s", tok, err, want)
		}
	}
}

func TestServiceRequestExpiresAndRings(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.svc.CreateServiceRequest(ctx, web.Actor{Local: true}, web.ServiceRequestInput{}); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("service request of the local operator = %v, want a validation error", err)
	}
	in := web.ServiceRequestInput{Subject: "Press 7 jammed", Goal: "restart it"}
	late, err := f.svc.CreateServiceRequest(ctx, f.tech, in)
	if err != nil {
		t.Fatal(err)
	}
	if late.ExpiresAt == nil || !late.ExpiresAt.Equal(f.clock.Now().Add(ServiceRequestTTL)) {
		t.Fatalf("expires at %v, want in %s", late.ExpiresAt, ServiceRequestTTL)
	}
	soon, err := f.svc.CreateServiceRequest(ctx, f.tech, in)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(ServiceRequestTTL - time.Minute)
	g, err := f.svc.Redeem(ctx, token(t, soon), redeem)
	if err != nil {
		t.Fatalf("redeem a minute before expiry: %v", err)
	}
	call, err := f.store.Session(ctx, g.SessionID)
	if err != nil || call.Status != storage.SessionRinging || call.Name != "Press 7 jammed" || call.CreatedBy != "u-tech" {
		t.Fatalf("service request call = %+v, %v", call, err)
	}
	if len(f.ring.rung) != 1 || f.ring.rung[0] != call.ID+" by Gina" {
		t.Fatalf("rung = %v", f.ring.rung)
	}
	owned, err := f.svc.ServiceRequests(ctx, f.tech)
	if err != nil || len(owned) != 1 || owned[0].ID != call.ID {
		t.Fatalf("service requests = %+v, %v", owned, err)
	}
	f.clock.Add(time.Minute)
	if _, err := f.svc.Redeem(ctx, token(t, late), redeem); deadReason(err) != "expired" {
		t.Fatalf("redeem at expiry = %v, want expired", err)
	}
	if len(f.ring.rung) != 1 {
		t.Fatalf("an expired link rang: %v", f.ring.rung)
	}
}

func TestInviteRefusals(t *testing.T) {
	f := newFixture(t, func(c *Config) {})
	ctx := context.Background()
	other := web.Actor{UserID: "u-other", OrgID: "o1"}
	if _, err := f.svc.InviteToCall(ctx, other, f.call.ID, web.InviteInput{}); !errors.As(err, new(*storage.ForbiddenError)) {
		t.Fatalf("invite by someone who may not read the call = %v", err)
	}
	for _, in := range []web.InviteInput{
		{Channel: "pigeon"},
		{Channel: "email", To: "not an address"},
		{Channel: "sms", To: "call me"},
		{Channel: "link", To: "someone"},
		{Name: "evil\u202eexe.pdf"},
	} {
		if _, err := f.svc.InviteToCall(ctx, f.tech, f.call.ID, in); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("invite %+v = %v, want a validation error", in, err)
		}
	}
	out, err := f.svc.InviteToCall(ctx, f.tech, f.call.ID, web.InviteInput{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Revoke(ctx, other, out.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("revoke by another user = %v, want not found", err)
	}
	if err := f.svc.Revoke(ctx, f.tech, out.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Redeem(ctx, token(t, out), redeem); deadReason(err) != "revoked" {
		t.Fatalf("redeem a revoked link = %v", err)
	}
	list, err := f.svc.Invitations(ctx, other)
	if err != nil || len(list) != 0 {
		t.Fatalf("another user's list = %+v, %v", list, err)
	}
	if all, err := f.svc.Invitations(ctx, web.Actor{Local: true}); err != nil || len(all) != 1 {
		t.Fatalf("the local operator's list = %+v, %v", all, err)
	}
}

func TestInviteByEmailNotConfigured(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "siteline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := New(Config{EmailsPerUserPerHour: 1, EmailsPerOrgPerHour: 1, OutboxKeyPath: filepath.Join(dir, "k")},
		Deps{Store: st, Now: time.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.CreateServiceRequest(context.Background(), web.Actor{UserID: "u1", OrgID: "o1"},
		web.ServiceRequestInput{InviteInput: web.InviteInput{Channel: "email", To: "guest@example.com"}})
	if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "mail.smtp_host") {
		t.Fatalf("e-mail without SMTP = %v, want a validation error naming mail.smtp_host", err)
	}
	if invs, err := st.Invitations(context.Background(), "o1", ""); err != nil || len(invs) != 0 {
		t.Fatalf("refused invitation stored: %+v, %v", invs, err)
	}
}

func TestOutboxKeyIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.key")
	first, err := loadOrCreateKey(path)
	if err != nil || len(first) != 32 {
		t.Fatalf("new key = %d bytes, %v", len(first), err)
	}
	again, err := loadOrCreateKey(path)
	if err != nil || string(again) != string(first) {
		t.Fatalf("key read back differs: %v", err)
	}
}

func TestEmailThrottle(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	th := newEmailThrottle(2, 3)
	var web429 *web.Error
	for i := range 2 {
		if _, err := th.reserve(t0.Add(time.Duration(i)*time.Minute), "u1", "o1"); err != nil {
			t.Fatalf("e-mail %d: %v", i+1, err)
		}
	}
	_, err := th.reserve(t0.Add(2*time.Minute), "u1", "o1")
	if !errors.As(err, &web429) || web429.Status != 429 || !strings.Contains(err.Error(), "invite.emails_per_user_per_hour") ||
		!strings.Contains(err.Error(), "try again in 58m0s") {
		t.Fatalf("third e-mail of a user = %v, want 429 naming the user limit", err)
	}
	// Another user of the organisation has one left, then the
	// organisation is at its limit.
	release, err := th.reserve(t0.Add(2*time.Minute), "u2", "o1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := th.reserve(t0.Add(2*time.Minute), "u3", "o1"); err == nil || !strings.Contains(err.Error(), "invite.emails_per_org_per_hour") {
		t.Fatalf("over the organisation's limit = %v", err)
	}
	// A released reservation is given back.
	release()
	if _, err := th.reserve(t0.Add(3*time.Minute), "u3", "o1"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	// An hour after the first e-mail, the user may send one more.
	if _, err := th.reserve(t0.Add(time.Hour), "u1", "o2"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestInviteByEmailThrottled(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.EmailsPerUserPerHour = 1 })
	ctx := context.Background()
	in := web.InviteInput{Channel: "email", To: "guest@example.com"}
	if _, err := f.svc.InviteToCall(ctx, f.tech, f.call.ID, in); err != nil {
		t.Fatal(err)
	}
	var e *web.Error
	if _, err := f.svc.InviteToCall(ctx, f.tech, f.call.ID, in); !errors.As(err, &e) || e.Status != 429 {
		t.Fatalf("second e-mail in the hour = %v, want 429", err)
	}
	if list, err := f.svc.Invitations(ctx, f.tech); err != nil || len(list) != 1 || f.sender.count() != 1 {
		t.Fatalf("after the refusal: %d invitations, %d sent, %v", len(list), f.sender.count(), err)
	}
	// A copied link is not an e-mail.
	if _, err := f.svc.InviteToCall(ctx, f.tech, f.call.ID, web.InviteInput{}); err != nil {
		t.Fatalf("link while e-mails are throttled: %v", err)
	}
}

func (f *fixture) delivery(t *testing.T, invitationID string) storage.Delivery {
	t.Helper()
	ds, err := f.store.Deliveries(context.Background(), invitationID)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries of %s = %+v, %v", invitationID, ds, err)
	}
	return ds[0]
}

func TestDeliveryRetriedThenFailed(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.sender.failures = 2
	out, err := f.svc.InviteToCall(ctx, f.tech, f.call.ID, web.InviteInput{Channel: "sms", To: "+33 6 12-34-56-78"})
	if err != nil {
		t.Fatal(err)
	}
	if d := out.Deliveries[0]; d.Status != storage.DeliveryPending || d.Attempts != 1 || d.LastError != "gateway busy" || d.Recipient != "+33612345678" {
		t.Fatalf("first attempt = %+v", d)
	}
	f.svc.RetryDue(ctx)
	if d := f.delivery(t, out.ID); d.Attempts != 1 {
		t.Fatalf("retried before due: %+v", d)
	}
	f.clock.Add(FirstRetry)
	f.svc.RetryDue(ctx)
	if d := f.delivery(t, out.ID); d.Attempts != 2 || !d.NextAttemptAt.Equal(f.clock.Now().Add(2*FirstRetry)) {
		t.Fatalf("second attempt = %+v, want the next in %s", d, 2*FirstRetry)
	}
	f.clock.Add(2 * FirstRetry)
	f.svc.RetryDue(ctx)
	d := f.delivery(t, out.ID)
	if d.Status != storage.DeliverySent || d.Attempts != 3 || d.Sealed != nil || f.sender.count() != 1 {
		t.Fatalf("third attempt = %+v, %d sent", d, f.sender.count())
	}
	if text := f.sender.sent[0]; !strings.Contains(text, out.Link) {
		t.Fatalf("sent %q, without the link %s", text, out.Link)
	}

	// A sender that keeps refusing: after the last attempt the delivery
	// is failed for good and keeps no sealed link.
	f.sender.failures = 1 << 20
	out, err = f.svc.InviteToCall(ctx, f.tech, f.call.ID, web.InviteInput{Channel: "sms", To: "+33699999999"})
	if err != nil {
		t.Fatal(err)
	}
	for range MaxDeliveryAttempts {
		f.clock.Add(MaxRetry)
		f.svc.RetryDue(ctx)
	}
	d = f.delivery(t, out.ID)
	if d.Status != storage.DeliveryFailed || d.Attempts != MaxDeliveryAttempts || d.Sealed != nil || d.LastError != "gateway busy" {
		t.Fatalf("after %d refusals = %+v", MaxDeliveryAttempts, d)
	}
}

func TestBackoffDoublesUpToMaxRetry(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: FirstRetry, 2: 2 * FirstRetry, 3: 4 * FirstRetry, 7: 64 * FirstRetry, 8: MaxRetry, 100: MaxRetry} {
		if got := backoff(attempts); got != want {
			t.Errorf("backoff(%d) = %s, want %s", attempts, got, want)
		}
	}
}

func TestOutboxRunsUntilCancelled(t *testing.T) {
	f := newFixture(t, nil)
	f.sender.failures = 1
	out, err := f.svc.InviteToCall(context.Background(), f.tech, f.call.ID, web.InviteInput{Channel: "sms", To: "+33612345678"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.svc.RunOutbox(ctx)
	}()
	f.clock.Add(FirstRetry)
	f.svc.Kick()
	testutil.Eventually(t, 10*time.Second, "delivery sent by the outbox", func() bool {
		return f.delivery(t, out.ID).Status == storage.DeliverySent
	})
	cancel()
	<-done
}

func TestGuestActor(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	out, err := f.svc.InviteToCall(ctx, f.tech, f.call.ID, web.InviteInput{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.svc.Redeem(ctx, token(t, out), redeem)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.svc.GuestActor(ctx, g.ID)
	// Only in-call grants of the guest's role count.
	if err != nil || a.CallID != f.call.ID || len(a.Grants) != 1 || a.Grants[0] != policy.CallShareFiles {
		t.Fatalf("guest actor = %+v, %v", a, err)
	}
	if err := f.svc.CheckGuest(g.ID, policy.CallShareFiles); err != nil {
		t.Fatalf("granted permission refused: %v", err)
	}
	var fe *storage.ForbiddenError
	if err := f.svc.CheckGuest(g.ID, policy.CallSnapshotAnnotate); !errors.As(err, &fe) || fe.Permission != policy.CallSnapshotAnnotate {
		t.Fatalf("permission not granted = %v", err)
	}
	if _, err := f.svc.GuestActor(ctx, web.GuestIDPrefix+"nobody"); !errors.Is(err, storage.ErrUnauthenticated) {
		t.Fatalf("unknown guest = %v", err)
	}
	// The guest's access ends with the call.
	end := storage.SessionEvent{ID: "e-end", SessionID: f.call.ID, At: f.clock.Now(), Kind: storage.EventEnded, ActorID: "u-tech"}
	if err := f.store.EndSession(ctx, f.call.ID, f.clock.Now(), end); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GuestActor(ctx, g.ID); !errors.Is(err, storage.ErrUnauthenticated) {
		t.Fatalf("guest of an ended call = %v", err)
	}
	if err := f.svc.CheckGuest(g.ID, policy.CallShareFiles); !errors.Is(err, storage.ErrUnauthenticated) {
		t.Fatalf("permission of a guest of an ended call = %v", err)
	}
}

// blockingSMS holds its first send until released and counts them all.
type blockingSMS struct {
	mu      sync.Mutex
	calls   int
	release chan struct{}
}

func (b *blockingSMS) SendSMS(context.Context, string, string) error {
	b.mu.Lock()
	b.calls++
	first := b.calls == 1
	b.mu.Unlock()
	if first {
		<-b.release
	}
	return nil
}

func (b *blockingSMS) count() int { b.mu.Lock(); defer b.mu.Unlock(); return b.calls }

// A new delivery is due at once; while the request that made it is still
// in its first attempt, the outbox leaves it alone rather than send it a
// second time.
func TestOutboxLeavesAFirstAttemptInFlight(t *testing.T) {
	f := newFixture(t, nil)
	gw := &blockingSMS{release: make(chan struct{})}
	f.svc.d.sms = gw
	ctx := context.Background()
	type result struct {
		out web.InvitationOut
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := f.svc.InviteToCall(ctx, f.tech, f.call.ID, web.InviteInput{Channel: "sms", To: "+33612345678"})
		done <- result{out, err}
	}()
	testutil.Eventually(t, 10*time.Second, "first attempt under way", func() bool { return gw.count() == 1 })
	f.svc.RetryDue(ctx)
	if n := gw.count(); n != 1 {
		t.Fatalf("the outbox sent a delivery whose first attempt was under way: %d sends", n)
	}
	close(gw.release)
	r := <-done
	if r.err != nil || r.out.Deliveries[0].Status != storage.DeliverySent {
		t.Fatalf("invitation = %+v, %v", r.out, r.err)
	}
	f.svc.RetryDue(ctx)
	if n := gw.count(); n != 1 || f.delivery(t, r.out.ID).Attempts != 1 {
		t.Fatalf("after the first attempt: %d sends, %+v", n, f.delivery(t, r.out.ID))
	}
}
