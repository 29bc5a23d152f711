// Package invites is the invitation use case behind web.Invites: links to
// a call or a service request, sent by e-mail or SMS through an outbox
// that retries, redeemed once by a guest.
package invites

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"siteline/node/internal/check"
	"siteline/node/internal/ids"
	"siteline/node/internal/usecase"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Invitation links. A token is 256 bits from crypto/rand in base64url (43
// characters); only its SHA-256 is stored, and the stored hash is compared
// in constant time. A link is used once: redeeming it admits one guest.
const (
	tokenBytes = 32
	tokenLen   = 43 // base64.RawURLEncoding of tokenBytes

	// ServiceRequestTTL is how long a service-request link stays valid.
	ServiceRequestTTL = 24 * time.Hour

	// TermsVersion is the version of the terms of use guests accept.
	TermsVersion = "2025-01"
	termsText    = "The call may be recorded by the inviting organisation. Share only what you are allowed to share. Your name, address and device are kept with the call's history."
)

// Store is what invitations read and write in the site store.
type Store interface {
	CreateInvitation(ctx context.Context, inv storage.Invitation, deliveries []storage.Delivery) error
	Invitation(ctx context.Context, id string) (storage.Invitation, error)
	InvitationByHash(ctx context.Context, hash []byte) (storage.Invitation, error)
	Invitations(ctx context.Context, orgID, createdBy string) ([]storage.Invitation, error)
	RevokeInvitation(ctx context.Context, id string, at time.Time) error
	RedeemInvitation(ctx context.Context, r storage.Redemption) error
	Guest(ctx context.Context, id string) (storage.Guest, error)
	Deliveries(ctx context.Context, invitationID string) ([]storage.Delivery, error)
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]storage.Delivery, error)
	UpdateDelivery(ctx context.Context, d storage.Delivery) error
	OwnedSessions(ctx context.Context, orgID, ownerID, kind string) ([]storage.Session, error)
	Session(ctx context.Context, id string) (storage.Session, error)
	SessionParticipants(ctx context.Context, sessionID string) ([]storage.SessionParticipant, error)
	User(ctx context.Context, id string) (storage.User, error)
	Team(ctx context.Context, id string) (storage.Team, error)
	Org(ctx context.Context, id string) (storage.Org, error)
	storage.MailOutbox
}

// Queuer is the team queues (*queue.Service): a service request made for
// a team is queued with its call instead of ringing its creator.
type Queuer interface {
	// QueuedEvent is the session event written with the queued call.
	QueuedEvent(sessionID, teamID, by string, at time.Time) storage.SessionEvent
	// Queued wakes the dispatcher once the call is queued.
	Queued(orgID, teamID string)
}

// Calls is what invitations need of the call service.
type Calls interface {
	// OpenCall returns a call of the actor's that can still be joined.
	OpenCall(ctx context.Context, a web.Actor, id string) (storage.Session, error)
	// MayRead decides whether a may invite guests into call s.
	MayRead(ctx context.Context, a web.Actor, s storage.Session) error
}

// Ringer rings the expert of a service request whose link was redeemed.
type Ringer interface {
	Ring(s storage.Session, caller string)
}

// RingFunc makes a function a Ringer.
type RingFunc func(s storage.Session, caller string)

// Ring calls f.
func (f RingFunc) Ring(s storage.Session, caller string) { f(s, caller) }

// Rules lists an organisation's policy rules (the enforcer's).
type Rules interface {
	Rules(orgID string) []storage.PolicyRule
}

// Auditor writes the local audit log.
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, detail any) error
}

// MailSender sends one e-mail with a plain-text and an HTML body.
type MailSender interface {
	SendMail(ctx context.Context, to, subject, text, html string) error
}

// SMSSender sends one SMS.
type SMSSender interface {
	SendSMS(ctx context.Context, to, text string) error
}

// Config is the node's settings invitations use.
type Config struct {
	// OrgID is the organisation of the local operator; SiteID the node's
	// site, where service requests' calls are made.
	OrgID, SiteID string
	// EmailsPerUserPerHour and EmailsPerOrgPerHour bound the invitation
	// e-mails sent (invite.emails_per_*_per_hour).
	EmailsPerUserPerHour, EmailsPerOrgPerHour int
	// OutboxKeyPath is the file of the key that seals pending links.
	OutboxKeyPath string
	// Mail is the SMTP server; an empty Host turns e-mail off.
	Mail SMTPConfig
	// SMSProvider is "log" (the default: no SMS is sent, the channel is
	// refused) or "webhook", which POSTs to SMSWebhookURL.
	SMSProvider, SMSWebhookURL string
}

// Deps is what the service is built from.
type Deps struct {
	Store Store
	Calls Calls
	Ring  Ringer
	// Queue queues the calls of requests made for a team; nil refuses
	// such requests.
	Queue Queuer
	Rules Rules
	Audit Auditor
	// URL is the address users open, known once the node listens.
	URL    func() string
	Now    func() time.Time
	Logger *slog.Logger
	// Mail and SMS, when set, replace the senders Config describes.
	Mail MailSender
	SMS  SMSSender
}

// Service is the use case behind web.Invites.
type Service struct {
	cfg   Config
	store Store
	calls Calls
	ring  Ringer
	queue Queuer
	rules Rules
	audit Auditor
	url   func() string
	now   func() time.Time
	log   *slog.Logger
	d     *deliverer
	// emails bounds the invitation e-mails sent (throttle.go).
	emails *emailThrottle
}

var _ web.Invites = (*Service)(nil)

// New builds the service and its outbox, whose key it reads or creates.
func New(cfg Config, deps Deps) (*Service, error) {
	d, err := newDeliverer(cfg, deps)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, store: deps.Store, calls: deps.Calls, ring: deps.Ring, queue: deps.Queue, rules: deps.Rules,
		audit: deps.Audit, url: deps.URL, now: deps.Now, log: deps.Logger, d: d,
		emails: newEmailThrottle(cfg.EmailsPerUserPerHour, cfg.EmailsPerOrgPerHour)}, nil
}

func newToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

func (s *Service) link(token string) string { return s.url() + "/join/" + token }

func validation(field, problem string) error { return check.Invalid(field, problem) }

func actorID(a web.Actor) string { return usecase.ActorID(a) }

func newID() string { return ids.New() }

// checkInvitee validates the channel and address of an invitation.
func checkInvitee(in *web.InviteInput) error {
	in.Channel, in.To, in.Name = strings.TrimSpace(in.Channel), strings.TrimSpace(in.To), strings.TrimSpace(in.Name)
	if utf8.RuneCountInString(in.Name) > 200 || strings.ContainsAny(in.Name, "\r\n") {
		return validation("name", "must be one line of at most 200 characters")
	}
	if err := check.NameChars("name", in.Name); err != nil {
		return err
	}
	switch in.Channel {
	case "link", "":
		in.Channel = "link"
		if in.To != "" {
			return validation("to", "must be empty when the link is copied")
		}
	case "email":
		addr, err := mail.ParseAddress(in.To)
		if err != nil || addr.Name != "" || len(in.To) > 254 {
			return validation("to", fmt.Sprintf("%q is not an e-mail address", in.To))
		}
		in.To = strings.ToLower(addr.Address)
	case "sms":
		phone := strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "").Replace(in.To)
		if len(phone) < 6 || len(phone) > 16 || strings.Trim(strings.TrimPrefix(phone, "+"), "0123456789") != "" {
			return validation("to", fmt.Sprintf("%q is not a phone number (such as +33612345678)", in.To))
		}
		in.To = phone
	default:
		return validation("channel", fmt.Sprintf("%q is not one of email, sms, link", in.Channel))
	}
	return nil
}

// InviteToCall creates a conference invitation to an open call of the
// actor's organisation and sends it.
func (s *Service) InviteToCall(ctx context.Context, a web.Actor, callID string, in web.InviteInput) (web.InvitationOut, error) {
	if err := checkInvitee(&in); err != nil {
		return web.InvitationOut{}, err
	}
	call, err := s.calls.OpenCall(ctx, a, callID)
	if err == nil {
		err = s.calls.MayRead(ctx, a, call)
	}
	if err != nil {
		return web.InvitationOut{}, fmt.Errorf("invite to call: %w", err)
	}
	return s.create(ctx, a, storage.Invitation{Kind: storage.SessionConference, SessionID: call.ID}, in, call.Name)
}

// CreateServiceRequest creates a 24-hour link that starts a call ringing
// the actor, and sends it.
func (s *Service) CreateServiceRequest(ctx context.Context, a web.Actor, in web.ServiceRequestInput) (web.InvitationOut, error) {
	if a.Local {
		return web.InvitationOut{}, validation("actor", "must be a user: a service request rings the expert who created it")
	}
	if err := checkInvitee(&in.InviteInput); err != nil {
		return web.InvitationOut{}, err
	}
	in.Subject, in.Goal = strings.TrimSpace(in.Subject), strings.TrimSpace(in.Goal)
	if len(in.Subject) > 200 || strings.ContainsAny(in.Subject, "\r\n") {
		return web.InvitationOut{}, validation("subject", "must be one line of at most 200 characters")
	}
	if err := check.NameChars("subject", in.Subject); err != nil {
		return web.InvitationOut{}, err
	}
	if len(in.Goal) > 2000 {
		return web.InvitationOut{}, validation("goal", "must be at most 2000 characters")
	}
	if in.TeamID = strings.TrimSpace(in.TeamID); in.TeamID != "" {
		if s.queue == nil {
			return web.InvitationOut{}, validation("team_id", "team queues are not available on this node")
		}
		t, err := s.store.Team(ctx, in.TeamID)
		if errors.Is(err, storage.ErrNotFound) || err == nil && t.OrgID != a.OrgID {
			return web.InvitationOut{}, fmt.Errorf("team %s: %w", in.TeamID, storage.ErrNotFound)
		} else if err != nil {
			return web.InvitationOut{}, err
		}
	}
	expires := s.now().UTC().Add(ServiceRequestTTL)
	inv := storage.Invitation{Kind: storage.SessionServiceRequest, ExpiresAt: &expires, Subject: in.Subject, Goal: in.Goal, TeamID: in.TeamID}
	return s.create(ctx, a, inv, in.InviteInput, in.Subject)
}

func (s *Service) create(ctx context.Context, a web.Actor, inv storage.Invitation, in web.InviteInput, subject string) (web.InvitationOut, error) {
	token, hash := newToken()
	now := s.now().UTC()
	inv.ID, inv.OrgID, inv.SiteID, inv.TokenHash, inv.CreatedBy, inv.CreatedAt = newID(), a.OrgID, s.cfg.SiteID, hash, actorID(a), now
	if inv.OrgID == "" {
		inv.OrgID = s.cfg.OrgID
	}
	inv.InviteeName = in.Name
	var deliveries []storage.Delivery
	switch in.Channel {
	case "email":
		inv.InviteeEmail = in.To
	case "sms":
		inv.InviteePhone = in.To
	}
	if in.Channel != "link" {
		if err := s.d.configured(in.Channel); err != nil {
			return web.InvitationOut{}, err
		}
		sealed, err := s.d.seal(token)
		if err != nil {
			return web.InvitationOut{}, fmt.Errorf("create invitation: %w", err)
		}
		deliveries = append(deliveries, storage.Delivery{ID: newID(), InvitationID: inv.ID, Channel: in.Channel,
			Recipient: in.To, Status: storage.DeliveryPending, NextAttemptAt: now, Sealed: sealed, CreatedAt: now})
	}
	// The outbox leaves the new deliveries to the first attempt below.
	ids := make([]string, len(deliveries))
	for i, del := range deliveries {
		ids[i] = del.ID
	}
	s.d.claim(ids...)
	defer s.d.release(ids...)
	release := func() {}
	if in.Channel == "email" {
		var err error
		if release, err = s.emails.reserve(now, actorID(a), inv.OrgID); err != nil {
			return web.InvitationOut{}, err
		}
	}
	if err := s.store.CreateInvitation(ctx, inv, deliveries); err != nil {
		release()
		return web.InvitationOut{}, fmt.Errorf("create invitation: %w", err)
	}
	if err := s.audit.Audit(ctx, actorID(a), "invitation.create", inv.ID,
		map[string]string{"kind": inv.Kind, "call": inv.SessionID, "channel": in.Channel, "to": in.To}); err != nil {
		return web.InvitationOut{}, err
	}
	// The first attempt is made now, so a failure is in the answer; the
	// outbox retries it with backoff.
	for i := range deliveries {
		deliveries[i] = s.d.attempt(ctx, deliveries[i], s.message(a, inv, subject, token))
	}
	out := s.out(inv, deliveries)
	out.Link = s.link(token)
	out.DeepLink = "siteline://join/" + token
	if png, err := qrPNG(out.Link); err == nil {
		out.QRCode = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	}
	return out, nil
}

func (s *Service) out(inv storage.Invitation, ds []storage.Delivery) web.InvitationOut {
	if ds == nil {
		ds = []storage.Delivery{}
	}
	state := "open"
	if err := s.validity(context.Background(), inv); err != nil {
		var dl *web.DeadLinkError
		if errors.As(err, &dl) {
			state = dl.Reason
		}
	}
	return web.InvitationOut{Invitation: inv, State: state, Deliveries: ds}
}

// Invitations lists the actor's invitations (every one for the local
// operator) with their deliveries.
func (s *Service) Invitations(ctx context.Context, a web.Actor) ([]web.InvitationOut, error) {
	by := actorID(a)
	if a.Local {
		by = ""
	}
	org := a.OrgID
	if org == "" {
		org = s.cfg.OrgID
	}
	invs, err := s.store.Invitations(ctx, org, by)
	if err != nil {
		return nil, err
	}
	out := make([]web.InvitationOut, 0, len(invs))
	for _, inv := range invs {
		ds, err := s.store.Deliveries(ctx, inv.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, s.out(inv, ds))
	}
	return out, nil
}

// Revoke kills an invitation of the actor's.
func (s *Service) Revoke(ctx context.Context, a web.Actor, id string) error {
	inv, err := s.store.Invitation(ctx, id)
	if err == nil && !a.Local && (inv.OrgID != a.OrgID || inv.CreatedBy != actorID(a)) {
		err = fmt.Errorf("invitation %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if err := s.store.RevokeInvitation(ctx, id, s.now().UTC()); err != nil {
		return err
	}
	return s.audit.Audit(ctx, actorID(a), "invitation.revoke", id, nil)
}

// ServiceRequests lists the open calls that the actor's service requests
// started: ringing or not, the expert can join them until they end.
func (s *Service) ServiceRequests(ctx context.Context, a web.Actor) ([]storage.Session, error) {
	out, err := s.store.OwnedSessions(ctx, a.OrgID, actorID(a), storage.SessionServiceRequest)
	if out == nil {
		out = []storage.Session{}
	}
	return out, err
}

// Inspect reports what a live link leads to.
func (s *Service) Inspect(ctx context.Context, token string) (web.JoinInfo, error) {
	inv, err := s.lookup(ctx, token)
	if err != nil {
		return web.JoinInfo{}, err
	}
	if err := s.validity(ctx, inv); err != nil {
		return web.JoinInfo{}, err
	}
	info := web.JoinInfo{Kind: inv.Kind, TermsVersion: TermsVersion, Terms: termsText,
		CallName: inv.Subject, Goal: inv.Goal, InviteeName: inv.InviteeName}
	if o, err := s.store.Org(ctx, inv.OrgID); err == nil {
		info.OrgName = o.Name
	}
	if u, err := s.store.User(ctx, inv.CreatedBy); err == nil {
		info.InviterName = u.Name
	}
	if inv.SessionID != "" {
		if call, err := s.store.Session(ctx, inv.SessionID); err == nil {
			info.CallName, info.Goal = call.Name, call.Goal
		}
	}
	return info, nil
}

// Redeem records the terms acceptance, marks the link used and admits a
// guest; a service request's call is created here and rings its expert.
func (s *Service) Redeem(ctx context.Context, token string, in web.RedeemInput) (storage.Guest, error) {
	inv, err := s.lookup(ctx, token)
	if err != nil {
		return storage.Guest{}, err
	}
	if err := s.validity(ctx, inv); err != nil {
		return storage.Guest{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case !in.AcceptTerms:
		return storage.Guest{}, validation("accept", "the terms of use must be accepted to join")
	case in.Name == "":
		return storage.Guest{}, validation("name", "is required")
	case utf8.RuneCountInString(in.Name) > 100 || strings.ContainsAny(in.Name, "\r\n"):
		return storage.Guest{}, validation("name", "must be one line of at most 100 characters")
	case policy.GuestRole(in.Kind) == "":
		return storage.Guest{}, validation("kind", fmt.Sprintf("%q is not one of guest_app, guest_mobile, guest_desktop", in.Kind))
	}
	if err := check.NameChars("name", in.Name); err != nil {
		return storage.Guest{}, err
	}
	now := s.now().UTC()
	g := storage.Guest{ID: web.GuestIDPrefix + newID(), OrgID: inv.OrgID, InvitationID: inv.ID, SessionID: inv.SessionID,
		Kind: in.Kind, Name: in.Name, CreatedAt: now}
	r := storage.Redemption{InvitationID: inv.ID, At: now, Guest: g}
	if inv.Kind == storage.SessionServiceRequest {
		call := storage.Session{ID: newID(), OrgID: inv.OrgID, SiteID: s.cfg.SiteID, Kind: storage.SessionServiceRequest,
			Status: storage.SessionRinging, CreatedBy: inv.CreatedBy, StartedAt: now,
			Name: inv.Subject, Goal: inv.Goal}
		if call.Name == "" {
			call.Name = "Service request from " + in.Name
		}
		r.NewSession = &call
		r.Guest.SessionID = call.ID
		if inv.TeamID != "" && s.queue != nil {
			r.Queue = &storage.QueueEntry{SessionID: call.ID, OrgID: inv.OrgID, TeamID: inv.TeamID, EnqueuedAt: now, EnqueuedBy: inv.CreatedBy}
			ev := s.queue.QueuedEvent(call.ID, inv.TeamID, inv.CreatedBy, now)
			r.QueuedEvent = &ev
		}
	}
	r.Terms = storage.TermsAcceptance{ID: newID(), InvitationID: inv.ID, SessionID: r.Guest.SessionID, UserID: g.ID,
		TermsVersion: TermsVersion, AcceptedAt: now, Address: in.Address, UserAgent: in.UserAgent}
	if err := s.store.RedeemInvitation(ctx, r); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.Guest{}, dead("used", "This invitation link has already been used. Each link lets one person in.")
		}
		return storage.Guest{}, err
	}
	if err := s.audit.Audit(ctx, r.Guest.ID, "invitation.redeem", inv.ID,
		map[string]string{"call": r.Guest.SessionID, "kind": string(in.Kind), "terms_version": TermsVersion}); err != nil {
		return storage.Guest{}, err
	}
	switch {
	case r.Queue != nil:
		s.log.Info("service request opened: queued for its team", "call", r.NewSession.ID, "team", inv.TeamID)
		s.queue.Queued(inv.OrgID, inv.TeamID)
	case r.NewSession != nil:
		s.log.Info("service request opened: ringing its expert", "call", r.NewSession.ID, "expert", inv.CreatedBy)
		s.ring.Ring(*r.NewSession, r.Guest.Name)
	}
	return r.Guest, nil
}

// GuestActor is the actor of a guest's browser session: the in-call
// permissions of the guest's role, for the guest's call only, while that
// call has not ended.
func (s *Service) GuestActor(ctx context.Context, guestID string) (web.Actor, error) {
	g, err := s.store.Guest(ctx, guestID)
	if err != nil {
		return web.Actor{}, fmt.Errorf("guest %s: %w", guestID, storage.ErrUnauthenticated)
	}
	call, err := s.store.Session(ctx, g.SessionID)
	if err != nil || call.Status == storage.SessionEnded {
		return web.Actor{}, fmt.Errorf("the call of guest %s is over: %w", guestID, storage.ErrUnauthenticated)
	}
	return web.Actor{UserID: g.ID, OrgID: g.OrgID, Name: g.Name, Kind: g.Kind, CallID: g.SessionID,
		Grants: s.guestGrants(g.OrgID, g.Kind)}, nil
}

// guestGrants are the in-call permissions the organisation's policy grants
// the guest role of kind; anything else granted to the role is ignored.
func (s *Service) guestGrants(orgID string, kind storage.UserKind) []string {
	sub := policy.RoleSubject(policy.GuestRole(kind))
	var out []string
	for _, r := range s.rules.Rules(orgID) {
		if r.PType == policy.PTypeGrant && len(r.V) == 3 && r.V[0] == sub && strings.HasPrefix(r.V[2], "xa_icall_") {
			out = append(out, r.V[2])
		}
	}
	return out
}

// CheckGuest answers the SFU's permission question for a guest: the
// in-call permissions of the guest's role, while the guest's call is open.
func (s *Service) CheckGuest(guestID, permission string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := s.GuestActor(ctx, guestID)
	if err != nil {
		return err
	}
	if !slices.Contains(a.Grants, permission) {
		return &storage.ForbiddenError{Permission: permission}
	}
	return nil
}
