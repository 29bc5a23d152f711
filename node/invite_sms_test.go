package node

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/node/invites"
	"siteline/storage"
	"siteline/web"
)

// smsGateway is an operator's SMS webhook: it keeps what it is asked to
// send and refuses while failures last.
type smsGateway struct {
	mu       sync.Mutex
	failures int
	got      []smsRequest
}

type smsRequest struct {
	contentType string
	To          string `json:"to"`
	Text        string `json:"text"`
}

func (g *smsGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in smsRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	in.contentType = r.Header.Get("Content-Type")
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failures > 0 {
		g.failures--
		http.Error(w, "gateway busy, try later", http.StatusServiceUnavailable)
		return
	}
	g.got = append(g.got, in)
}

func (g *smsGateway) sent() []smsRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]smsRequest(nil), g.got...)
}

func (g *smsGateway) failNext(n int) {
	g.mu.Lock()
	g.failures = n
	g.mu.Unlock()
}

func startSMSNode(t *testing.T, gw *smsGateway) *inviteNode {
	t.Helper()
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return startInviteNode(t, func(c *Config) {
		c.SMS = SMSConfig{Provider: "webhook", WebhookURL: srv.URL + "/sms"}
	})
}

// delivery reads an invitation's one delivery from the creator's list.
func (in *inviteNode) delivery(t *testing.T, invitationID string) storage.Delivery {
	t.Helper()
	var list []web.InvitationOut
	if st := in.tech.do("GET", "/api/v1/invitations", nil, &list); st != 200 {
		t.Fatalf("list invitations = %d", st)
	}
	for _, inv := range list {
		if inv.ID == invitationID && len(inv.Deliveries) == 1 {
			return inv.Deliveries[0]
		}
	}
	t.Fatalf("invitation %s with one delivery not in %+v", invitationID, list)
	return storage.Delivery{}
}

func TestInvitationBySMSWebhook(t *testing.T) {
	gw := &smsGateway{}
	in := startSMSNode(t, gw)
	var out web.InvitationOut
	if st := in.tech.do("POST", "/api/v1/service-requests", web.ServiceRequestInput{
		InviteInput: web.InviteInput{Channel: "sms", To: "+33 6 12-34-56-78", Name: "Carl"}, Subject: "Press 7 jammed"}, &out); st != 201 {
		t.Fatalf("service request by SMS = %d", st)
	}
	if len(out.Deliveries) != 1 || out.Deliveries[0].Status != storage.DeliverySent || out.Deliveries[0].Recipient != "+33612345678" {
		t.Fatalf("deliveries = %+v", out.Deliveries)
	}
	got := gw.sent()
	if len(got) != 1 || got[0].To != "+33612345678" || got[0].contentType != "application/json" {
		t.Fatalf("gateway received %+v", got)
	}
	link := regexp.MustCompile(`https?://\S+/join/[A-Za-z0-9_-]{43}`).FindString(got[0].Text)
	if link != out.Link || !strings.Contains(got[0].Text, "Tom Tech") || !strings.Contains(got[0].Text, "24 hours") {
		t.Fatalf("SMS text %q: want Tom Tech, the link %s and its validity", got[0].Text, out.Link)
	}
	if st, _ := in.inspect(t, tokenOf(t, link)); st != 200 {
		t.Fatalf("link from the SMS = %d", st)
	}
	// A number that is no number is refused before anything is sent.
	var e web.ErrorBody
	if st := in.tech.do("POST", "/api/v1/service-requests", web.ServiceRequestInput{
		InviteInput: web.InviteInput{Channel: "sms", To: "call me"}}, &e); st != 400 || !strings.Contains(e.Error, `"call me" is not a phone number`) {
		t.Fatalf("bad number = %d %+v", st, e)
	}
	if len(gw.sent()) != 1 {
		t.Fatalf("gateway received %d messages, want 1", len(gw.sent()))
	}
}

func TestInvitationSMSWebhookRetriedAndReported(t *testing.T) {
	gw := &smsGateway{failures: 2}
	in := startSMSNode(t, gw)
	call := in.createCall(t, in.tech)
	inv := in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "sms", To: "+33612345678"})
	// The failure is in the answer, with the gateway's own words.
	if d := inv.Deliveries[0]; d.Status != storage.DeliveryPending || d.Attempts != 1 || !strings.Contains(d.LastError, "503 Service Unavailable: gateway busy, try later") {
		t.Fatalf("first attempt = %+v", d)
	}
	in.n.invites.RetryDue(context.Background()) // not due yet
	if d := in.delivery(t, inv.ID); d.Attempts != 1 {
		t.Fatalf("retried before due: %+v", d)
	}
	in.clock.Add(invites.FirstRetry)
	in.n.invites.Kick()
	eventually(t, 10*time.Second, "second attempt", func() bool { return in.delivery(t, inv.ID).Attempts == 2 })
	in.clock.Add(2 * invites.FirstRetry)
	in.n.invites.Kick()
	eventually(t, 10*time.Second, "sent", func() bool { return in.delivery(t, inv.ID).Status == storage.DeliverySent })
	if d := in.delivery(t, inv.ID); d.Attempts != 3 || d.LastError != "" || len(gw.sent()) != 1 {
		t.Fatalf("after the retries = %+v, %d messages", d, len(gw.sent()))
	}

	// A gateway that keeps refusing: after the last attempt the delivery
	// is failed, says why, and keeps no sealed link.
	gw.failNext(1 << 20)
	inv = in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "sms", To: "+33699999999"})
	for attempts := 1; attempts < invites.MaxDeliveryAttempts; attempts++ {
		in.clock.Add(invites.MaxRetry)
		in.n.invites.Kick()
		eventually(t, 10*time.Second, "attempt", func() bool { return in.delivery(t, inv.ID).Attempts == attempts+1 })
	}
	d := in.delivery(t, inv.ID)
	if d.Status != storage.DeliveryFailed || d.Attempts != invites.MaxDeliveryAttempts || !strings.Contains(d.LastError, "gateway busy") {
		t.Fatalf("after %d refusals = %+v", invites.MaxDeliveryAttempts, d)
	}
	ds, err := in.n.store.Deliveries(context.Background(), inv.ID)
	if err != nil || len(ds) != 1 || ds[0].Sealed != nil {
		t.Fatalf("sealed link kept after giving up: %+v %v", ds, err)
	}
	in.clock.Add(invites.MaxRetry)
	in.n.invites.RetryDue(context.Background())
	if got := in.delivery(t, inv.ID); got.Attempts != invites.MaxDeliveryAttempts {
		t.Fatalf("a failed delivery was tried again: %+v", got)
	}
}
