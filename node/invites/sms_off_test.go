package invites

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"siteline/node/internal/usecase"
	"siteline/storage"
	"siteline/web"
)

// With the default SMS provider, log, nothing can be sent by SMS: the
// channel is refused saying so, and no delivery is recorded as sent.
func TestSMSWithoutAProviderIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	svc, err := New(Config{OrgID: "o1", SiteID: "s1", EmailsPerUserPerHour: 3, EmailsPerOrgPerHour: 5,
		OutboxKeyPath: filepath.Join(t.TempDir(), "outbox.key"), SMSProvider: "log"}, Deps{
		Store:  f.store,
		Calls:  fakeCalls{store: f.store, mayRead: map[string]bool{"u-tech": true}},
		Ring:   f.ring,
		Rules:  rules{},
		Audit:  usecase.Auditor{Store: f.store, OrgID: "o1", SiteID: "s1", Now: f.clock.Now},
		URL:    func() string { return "https://plant.example" },
		Now:    f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Mail:   f.sender,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SMSConfigured(); err == nil || !strings.Contains(err.Error(), "SMS is not configured") {
		t.Errorf("SMSConfigured = %v, want SMS is not configured", err)
	}
	if err := f.svc.SMSConfigured(); err != nil {
		t.Errorf("with a gateway, SMSConfigured = %v", err)
	}
	_, err = svc.InviteToCall(ctx, f.tech, f.call.ID, web.InviteInput{Channel: "sms", To: "+33612345678"})
	if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "SMS is not configured on this node") {
		t.Fatalf("invite by SMS without a provider = %v, want a validation error saying SMS is not configured", err)
	}
	invs, err := svc.Invitations(ctx, f.tech)
	if err != nil || len(invs) != 0 {
		t.Errorf("invitations after the refusal = %+v, %v; want none", invs, err)
	}
	if len(f.sender.sent) != 0 {
		t.Errorf("sent %v", f.sender.sent)
	}
}
