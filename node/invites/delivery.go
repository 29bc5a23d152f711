package invites

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"rsc.io/qr"

	"siteline/storage"
	"siteline/web"
)

// The delivery outbox: every e-mail or SMS of an invitation is a row of
// invitation_deliveries, attempted when created and then retried with
// backoff by a chore until it is sent or MaxDeliveryAttempts have failed.
// The link is needed to retry, and the token must not be stored in clear:
// a pending row keeps it sealed with AES-GCM under a key in the data
// directory, and the sealed copy is erased once the row is sent or failed.
const (
	// MaxDeliveryAttempts is how many times a delivery is tried before it
	// is failed for good.
	MaxDeliveryAttempts = 8
	// FirstRetry is the wait before the second attempt; each failure
	// doubles it, up to MaxRetry.
	FirstRetry      = 30 * time.Second
	MaxRetry        = time.Hour
	deliveryPoll    = 5 * time.Second
	deliveryTimeout = 15 * time.Second
)

// SMTPConfig is the SMTP server invitations are sent through.
type SMTPConfig struct {
	Host               string
	Port               int
	Username, Password string
	From               string
	// TLS is "starttls" (required, the default), "opportunistic", "tls"
	// (implicit) or "off".
	TLS string
}

type deliverer struct {
	aead  cipher.AEAD
	mail  MailSender // nil: e-mail is not configured
	sms   SMSSender  // nil: SMS is not configured
	kick  chan struct{}
	store Store
	now   func() time.Time
	log   *slog.Logger

	mu       sync.Mutex
	inFlight map[string]bool // ids of the deliveries being attempted
}

// claim marks deliveries as being attempted, or returns false when one of
// them already is: a new delivery is due at once, and the outbox must not
// send it again while the request that created it makes its first
// attempt.
func (d *deliverer) claim(ids ...string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if d.inFlight[id] {
			return false
		}
	}
	for _, id := range ids {
		d.inFlight[id] = true
	}
	return true
}

func (d *deliverer) release(ids ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		delete(d.inFlight, id)
	}
}

func newDeliverer(cfg Config, deps Deps) (*deliverer, error) {
	key, err := loadOrCreateKey(cfg.OutboxKeyPath)
	if err != nil {
		return nil, fmt.Errorf("invitation outbox key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	d := &deliverer{aead: aead, kick: make(chan struct{}, 1), inFlight: make(map[string]bool), store: deps.Store, now: deps.Now, log: deps.Logger,
		mail: deps.Mail, sms: deps.SMS}
	if d.mail == nil && cfg.Mail.Host != "" {
		d.mail = &smtpSender{cfg: cfg.Mail}
	}
	// The "log" provider sends nothing: SMS is not configured.
	if d.sms == nil && cfg.SMSProvider == "webhook" {
		d.sms = &webhookSMS{url: cfg.SMSWebhookURL, client: &http.Client{Timeout: deliveryTimeout}}
	}
	return d, nil
}

func loadOrCreateKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("%s: want 32 bytes, found %d", path, len(b))
		}
		return b, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

func (d *deliverer) configured(channel string) error {
	switch {
	case channel == "email" && d.mail == nil:
		return validation("channel", "e-mail is not configured on this node (set mail.smtp_host)")
	case channel == "sms" && d.sms == nil:
		return validation("channel", errSMSOff.Error()+": send the link by e-mail or copy it")
	}
	return nil
}

func (d *deliverer) seal(token string) ([]byte, error) { return d.sealBytes([]byte(token)) }

func (d *deliverer) sealBytes(b []byte) ([]byte, error) {
	nonce := make([]byte, d.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return d.aead.Seal(nonce, nonce, b, nil), nil
}

func (d *deliverer) open(sealed []byte) (string, error) {
	b, err := d.openBytes(sealed)
	return string(b), err
}

func (d *deliverer) openBytes(sealed []byte) ([]byte, error) {
	ns := d.aead.NonceSize()
	if len(sealed) < ns {
		return nil, errors.New("sealed message is truncated")
	}
	return d.aead.Open(nil, sealed[:ns], sealed[ns:], nil)
}

// message is what an invitation says.
type message struct {
	subject, text, html string
}

var mailHTML = template.Must(template.New("mail").Parse(`<!doctype html><html><body style="font-family:sans-serif">
<p>Hello{{with .Name}} {{.}}{{end}},</p>
<p>{{.Inviter}} invites you to {{if .Call}}the call “{{.Call}}”{{else}}a video call{{end}} with Siteline.</p>
<p><a href="{{.Link}}">Join the call</a></p>
<p style="color:#555">{{.Validity}} Do not forward this link: it lets one person in.</p>
</body></html>`))

func (s *Service) message(a web.Actor, inv storage.Invitation, call, token string) message {
	link := s.link(token)
	inviter := a.Name
	if inviter == "" {
		inviter = "Siteline"
	}
	validity := "The link works while the call goes on."
	if inv.ExpiresAt != nil {
		validity = "The link works for 24 hours; opening it calls " + inviter + "."
	}
	var text strings.Builder
	fmt.Fprintf(&text, "Hello%s,\n\n%s invites you to ", prefixed(" ", inv.InviteeName), inviter)
	if call != "" {
		fmt.Fprintf(&text, "the call %q", call)
	} else {
		text.WriteString("a video call")
	}
	fmt.Fprintf(&text, " with Siteline.\n\nJoin: %s\n\n%s Do not forward this link: it lets one person in.\n", link, validity)
	var html bytes.Buffer
	_ = mailHTML.Execute(&html, map[string]string{"Name": inv.InviteeName, "Inviter": inviter, "Call": call, "Link": link, "Validity": validity})
	subject := inviter + " invites you to a Siteline call"
	return message{subject: subject, text: text.String(), html: html.String()}
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// attempt sends a delivery once and records the outcome: sent, pending
// with the next attempt after a backoff, or failed for good.
func (d *deliverer) attempt(ctx context.Context, del storage.Delivery, msg message) storage.Delivery {
	err := d.send(ctx, del.Channel, del.Recipient, msg)
	del.Attempts++
	o := d.outcome(del.Attempts, err)
	del.Status, del.LastError, del.SentAt = o.status, o.lastError, o.sentAt
	if o.status != storage.DeliveryPending {
		del.Sealed = nil
	} else {
		del.NextAttemptAt = o.next
	}
	if err != nil {
		d.log.Warn("invitation delivery failed", "delivery", del.ID, "channel", del.Channel,
			"attempt", del.Attempts, "status", del.Status, "err", err)
	}
	// Recorded with a fresh context: the outcome must be kept even when
	// the request that made the first attempt went away.
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if uerr := d.store.UpdateDelivery(wctx, del); uerr != nil {
		d.log.Error("record invitation delivery", "delivery", del.ID, "err", uerr)
	}
	return del
}

// send sends msg once by channel.
func (d *deliverer) send(ctx context.Context, channel, to string, msg message) error {
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	switch channel {
	case "email":
		if d.mail == nil {
			return errors.New("e-mail is not configured on this node (mail.smtp_host)")
		}
		return d.mail.SendMail(ctx, to, msg.subject, msg.text, msg.html)
	case "sms":
		if d.sms == nil {
			return errSMSOff
		}
		return d.sms.SendSMS(ctx, to, msg.text)
	}
	return fmt.Errorf("unknown channel %q", channel)
}

// outcome is what an attempt made of a send: sent, pending until next, or
// failed for good after the last attempt.
type outcome struct {
	status, lastError string
	next              time.Time
	sentAt            *time.Time
}

func (d *deliverer) outcome(attempts int, err error) outcome {
	now := d.now().UTC()
	switch {
	case err == nil:
		return outcome{status: storage.DeliverySent, sentAt: &now}
	case attempts >= MaxDeliveryAttempts:
		return outcome{status: storage.DeliveryFailed, lastError: truncateString(err.Error(), 500)}
	}
	return outcome{status: storage.DeliveryPending, lastError: truncateString(err.Error(), 500), next: now.Add(backoff(attempts))}
}

func backoff(attempts int) time.Duration {
	b := FirstRetry << (attempts - 1)
	if b > MaxRetry || b <= 0 {
		b = MaxRetry
	}
	return b
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// RetryDue attempts every delivery whose next attempt is due.
func (s *Service) RetryDue(ctx context.Context) {
	due, err := s.store.DueDeliveries(ctx, s.now(), 50)
	if err != nil {
		s.log.Warn("invitation outbox", "err", err)
		return
	}
	retryEach(s.d, due, func(d storage.Delivery) string { return d.ID }, func(d storage.Delivery) { s.retry(ctx, d) })
	s.retryMails(ctx) // mail.go
}

// retryEach retries each due item of the outbox, but those whose first
// attempt is under way.
func retryEach[T any](d *deliverer, due []T, id func(T) string, retry func(T)) {
	for _, x := range due {
		if !d.claim(id(x)) {
			continue
		}
		retry(x)
		d.release(id(x))
	}
}

// retry attempts a due delivery again, if it still is due: it may have
// been attempted since it was listed.
func (s *Service) retry(ctx context.Context, del storage.Delivery) {
	ds, err := s.store.Deliveries(ctx, del.InvitationID)
	if err != nil {
		s.log.Warn("invitation outbox", "delivery", del.ID, "err", err)
		return
	}
	i := slices.IndexFunc(ds, func(d storage.Delivery) bool { return d.ID == del.ID })
	if i < 0 || ds[i].Status != storage.DeliveryPending || ds[i].Attempts != del.Attempts {
		return
	}
	inv, err := s.store.Invitation(ctx, del.InvitationID)
	if err != nil {
		s.log.Warn("invitation outbox", "delivery", del.ID, "err", err)
		return
	}
	token, err := s.d.open(del.Sealed)
	if err != nil {
		del.Attempts, del.Status, del.Sealed = MaxDeliveryAttempts, storage.DeliveryFailed, nil
		del.LastError = "the link cannot be recovered (outbox key changed): create a new invitation"
		_ = s.store.UpdateDelivery(ctx, del)
		return
	}
	a := web.Actor{UserID: inv.CreatedBy, OrgID: inv.OrgID}
	if u, err := s.store.User(ctx, inv.CreatedBy); err == nil {
		a.Name = u.Name
	}
	call := inv.Subject
	if inv.SessionID != "" {
		if c, err := s.store.Session(ctx, inv.SessionID); err == nil {
			call = c.Name
		}
	}
	s.d.attempt(ctx, del, s.message(a, inv, call, token))
}

// RunOutbox retries due deliveries every few seconds, and at once when
// kicked, until ctx is cancelled.
func (s *Service) RunOutbox(ctx context.Context) {
	t := time.NewTicker(deliveryPoll)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.d.kick:
		case <-ctx.Done():
			return
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		s.RetryDue(rctx)
		cancel()
	}
}

// Kick makes the outbox look for due deliveries now.
func (s *Service) Kick() {
	select {
	case s.d.kick <- struct{}{}:
	default:
	}
}

// smtpSender sends through the configured SMTP server with go-mail.
type smtpSender struct{ cfg SMTPConfig }

func (s *smtpSender) SendMail(ctx context.Context, to, subject, text, html string) error {
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(deliveryTimeout)}
	switch s.cfg.TLS {
	case "off":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client for %s: %w", s.cfg.Host, err)
	}
	m := gomail.NewMsg()
	if err := m.From(s.cfg.From); err != nil {
		return fmt.Errorf("mail from %q: %w", s.cfg.From, err)
	}
	if err := m.To(to); err != nil {
		return fmt.Errorf("mail to %q: %w", to, err)
	}
	m.Subject(subject)
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("send mail to %s via %s:%d: %w", to, s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}

// webhookSMS POSTs each SMS to a gateway of the operator's.
type webhookSMS struct {
	url    string
	client *http.Client
}

func (w *webhookSMS) SendSMS(ctx context.Context, to, text string) error {
	body, _ := json.Marshal(map[string]string{"to": to, "text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("sms webhook: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		// The gateway's own words say why, such as "unknown number".
		if why := strings.Join(strings.Fields(string(answer)), " "); why != "" {
			return fmt.Errorf("sms webhook answered %s: %s", resp.Status, truncateString(why, 200))
		}
		return fmt.Errorf("sms webhook answered %s", resp.Status)
	}
	return nil
}

// errSMSOff is why nothing goes by SMS without a provider (sms.provider
// log, the default, sends nothing).
var errSMSOff = errors.New("SMS is not configured on this node (an administrator sets sms.provider: webhook)")

// qrPNG draws a link as a QR code.
func qrPNG(link string) ([]byte, error) {
	code, err := qr.Encode(link, qr.M)
	if err != nil {
		return nil, err
	}
	return code.PNG(), nil
}

// MailConfigured says why this node cannot send e-mail, nil when it can.
func (s *Service) MailConfigured() error { return s.d.configured("email") }

// SMSConfigured says why this node cannot send SMS, nil when it can.
func (s *Service) SMSConfigured() error { return s.d.configured("sms") }
