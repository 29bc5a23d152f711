package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"siteline/web"
)

// Invitation e-mails are throttled per user and per organisation: over
// either limit the invitation gets 429 naming the key, nothing is sent
// and nothing is created; links are not throttled; the limits are per
// sliding hour (issue 13, item 24).
func TestInvitationEmailsAreThrottled(t *testing.T) {
	box := &mailbox{}
	host, port := startSMTP(t, box)
	in := startInviteNode(t, func(c *Config) {
		c.Mail = MailConfig{SMTPHost: host, SMTPPort: port, From: "siteline@plant.example", TLS: "off"}
		c.Invite.EmailsPerUserPerHour = 3
		c.Invite.EmailsPerOrgPerHour = 5
	})
	call := in.createCall(t, in.tech)
	path := "/api/v1/calls/" + call.ID + "/invitations"
	send := func(b *browser, i int) (int, web.ErrorBody) {
		var e web.ErrorBody
		st := b.do("POST", path, web.InviteInput{Channel: "email", To: fmt.Sprintf("guest%d@example.com", i)}, &e)
		return st, e
	}
	count := func(b *browser) int {
		var list []web.InvitationOut
		if st := b.do("GET", "/api/v1/invitations", nil, &list); st != 200 {
			t.Fatalf("list invitations = %d", st)
		}
		return len(list)
	}
	for i := range 3 {
		if st, e := send(in.tech, i); st != 201 {
			t.Fatalf("e-mail %d of tech = %d %q", i+1, st, e.Error)
		}
	}
	st, e := send(in.tech, 3)
	if st != 429 || !strings.Contains(e.Error, "invite.emails_per_user_per_hour") {
		t.Errorf("fourth e-mail of tech in an hour = %d %q, want 429 naming invite.emails_per_user_per_hour", st, e.Error)
	}
	// A link needs no e-mail.
	if st := in.tech.do("POST", path, web.InviteInput{Channel: "link"}, nil); st != 201 {
		t.Errorf("link while e-mails are throttled = %d", st)
	}
	// The organisation's budget: 3 + 2 by the administrator, then no more.
	for i := range 2 {
		if st, e := send(in.admin, 10+i); st != 201 {
			t.Fatalf("e-mail %d of the administrator = %d %q", i+1, st, e.Error)
		}
	}
	st, e = send(in.admin, 12)
	if st != 429 || !strings.Contains(e.Error, "invite.emails_per_org_per_hour") {
		t.Errorf("sixth e-mail of the organisation in an hour = %d %q, want 429 naming invite.emails_per_org_per_hour", st, e.Error)
	}
	if got := len(box.messages()); got != 5 {
		t.Errorf("%d e-mails sent, want 5", got)
	}
	// No invitation was created for the refused ones.
	if got := count(in.tech); got != 4 {
		t.Errorf("tech's invitations = %d, want 4 (3 e-mails, 1 link)", got)
	}
	if got := count(in.admin); got != 2 {
		t.Errorf("administrator's invitations = %d, want 2", got)
	}

	// An hour later the budgets are back.
	in.clock.Add(time.Hour + time.Minute)
	if st, e := send(in.tech, 20); st != 201 {
		t.Errorf("e-mail of tech an hour later = %d %q", st, e.Error)
	}
	if got := len(box.messages()); got != 6 {
		t.Errorf("%d e-mails sent, want 6", got)
	}

	bad := testConfig(t, shortTempDir(t))
	bad.Invite.EmailsPerOrgPerHour = 0
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "invite.emails_per_org_per_hour") {
		t.Errorf("Validate with emails_per_org_per_hour 0 = %v, want an error naming it", err)
	}
}
