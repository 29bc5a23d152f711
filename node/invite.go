package node

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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

// inviteService is the use case behind web.Invites.
type inviteService struct {
	n *Node
	d *deliverer
	// emails bounds the invitation e-mails sent (invite_throttle.go).
	emails *emailThrottle
}

var _ web.Invites = (*inviteService)(nil)

func newToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

func (iv *inviteService) link(token string) string { return iv.n.URL() + "/join/" + token }

// checkInvitee validates the channel and address of an invitation.
func checkInvitee(in *web.InviteInput) error {
	in.Channel, in.To, in.Name = strings.TrimSpace(in.Channel), strings.TrimSpace(in.To), strings.TrimSpace(in.Name)
	if utf8.RuneCountInString(in.Name) > 200 || strings.ContainsAny(in.Name, "\r\n") {
		return validation("name", "must be one line of at most 200 characters")
	}
	if err := checkNameChars("name", in.Name); err != nil {
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
func (iv *inviteService) InviteToCall(ctx context.Context, a web.Actor, callID string, in web.InviteInput) (web.InvitationOut, error) {
	if err := checkInvitee(&in); err != nil {
		return web.InvitationOut{}, err
	}
	call, err := iv.n.calls.OpenCall(ctx, a, callID)
	if err == nil {
		err = iv.n.calls.MayRead(ctx, a, call)
	}
	if err != nil {
		return web.InvitationOut{}, fmt.Errorf("invite to call: %w", err)
	}
	return iv.create(ctx, a, storage.Invitation{Kind: storage.SessionConference, SessionID: call.ID}, in, call.Name)
}

// CreateServiceRequest creates a 24-hour link that starts a call ringing
// the actor, and sends it.
func (iv *inviteService) CreateServiceRequest(ctx context.Context, a web.Actor, in web.ServiceRequestInput) (web.InvitationOut, error) {
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
	if err := checkNameChars("subject", in.Subject); err != nil {
		return web.InvitationOut{}, err
	}
	if len(in.Goal) > 2000 {
		return web.InvitationOut{}, validation("goal", "must be at most 2000 characters")
	}
	expires := iv.n.now().UTC().Add(ServiceRequestTTL)
	inv := storage.Invitation{Kind: storage.SessionServiceRequest, ExpiresAt: &expires, Subject: in.Subject, Goal: in.Goal}
	return iv.create(ctx, a, inv, in.InviteInput, in.Subject)
}

func (iv *inviteService) create(ctx context.Context, a web.Actor, inv storage.Invitation, in web.InviteInput, subject string) (web.InvitationOut, error) {
	token, hash := newToken()
	now := iv.n.now().UTC()
	inv.ID, inv.OrgID, inv.SiteID, inv.TokenHash, inv.CreatedBy, inv.CreatedAt = newID(), a.OrgID, iv.n.siteID, hash, actorID(a), now
	if inv.OrgID == "" {
		inv.OrgID = iv.n.orgID
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
		if err := iv.d.configured(in.Channel); err != nil {
			return web.InvitationOut{}, err
		}
		sealed, err := iv.d.seal(token)
		if err != nil {
			return web.InvitationOut{}, fmt.Errorf("create invitation: %w", err)
		}
		deliveries = append(deliveries, storage.Delivery{ID: newID(), InvitationID: inv.ID, Channel: in.Channel,
			Recipient: in.To, Status: storage.DeliveryPending, NextAttemptAt: now, Sealed: sealed, CreatedAt: now})
	}
	release := func() {}
	if in.Channel == "email" {
		var err error
		if release, err = iv.emails.reserve(now, actorID(a), inv.OrgID); err != nil {
			return web.InvitationOut{}, err
		}
	}
	if err := iv.n.store.CreateInvitation(ctx, inv, deliveries); err != nil {
		release()
		return web.InvitationOut{}, fmt.Errorf("create invitation: %w", err)
	}
	if err := iv.n.audit(ctx, actorID(a), "invitation.create", inv.ID,
		map[string]string{"kind": inv.Kind, "call": inv.SessionID, "channel": in.Channel, "to": in.To}); err != nil {
		return web.InvitationOut{}, err
	}
	// The first attempt is made now, so a failure is in the answer; the
	// outbox retries it with backoff.
	for i := range deliveries {
		deliveries[i] = iv.d.attempt(ctx, deliveries[i], iv.message(a, inv, subject, token))
	}
	out := iv.out(inv, deliveries)
	out.Link = iv.link(token)
	out.DeepLink = "siteline://join/" + token
	if png, err := qrPNG(out.Link); err == nil {
		out.QRCode = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	}
	return out, nil
}

func (iv *inviteService) out(inv storage.Invitation, ds []storage.Delivery) web.InvitationOut {
	if ds == nil {
		ds = []storage.Delivery{}
	}
	state := "open"
	if err := iv.validity(context.Background(), inv); err != nil {
		var dl *web.DeadLinkError
		if errors.As(err, &dl) {
			state = dl.Reason
		}
	}
	return web.InvitationOut{Invitation: inv, State: state, Deliveries: ds}
}

// Invitations lists the actor's invitations (every one for the local
// operator) with their deliveries.
func (iv *inviteService) Invitations(ctx context.Context, a web.Actor) ([]web.InvitationOut, error) {
	by := actorID(a)
	if a.Local {
		by = ""
	}
	org := a.OrgID
	if org == "" {
		org = iv.n.orgID
	}
	invs, err := iv.n.store.Invitations(ctx, org, by)
	if err != nil {
		return nil, err
	}
	out := make([]web.InvitationOut, 0, len(invs))
	for _, inv := range invs {
		ds, err := iv.n.store.Deliveries(ctx, inv.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, iv.out(inv, ds))
	}
	return out, nil
}

// Revoke kills an invitation of the actor's.
func (iv *inviteService) Revoke(ctx context.Context, a web.Actor, id string) error {
	inv, err := iv.n.store.Invitation(ctx, id)
	if err == nil && !a.Local && (inv.OrgID != a.OrgID || inv.CreatedBy != actorID(a)) {
		err = fmt.Errorf("invitation %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if err := iv.n.store.RevokeInvitation(ctx, id, iv.n.now().UTC()); err != nil {
		return err
	}
	return iv.n.audit(ctx, actorID(a), "invitation.revoke", id, nil)
}

// ServiceRequests lists the open calls that the actor's service requests
// started: ringing or not, the expert can join them until they end.
func (iv *inviteService) ServiceRequests(ctx context.Context, a web.Actor) ([]storage.Session, error) {
	out, err := iv.n.store.OwnedSessions(ctx, a.OrgID, actorID(a), storage.SessionServiceRequest)
	if out == nil {
		out = []storage.Session{}
	}
	return out, err
}

func dead(reason, msg string) error { return &web.DeadLinkError{Reason: reason, Message: msg} }

// lookup finds the invitation of a token, comparing the stored hash in
// constant time.
func (iv *inviteService) lookup(ctx context.Context, token string) (storage.Invitation, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if len(token) != tokenLen || err != nil || len(raw) != tokenBytes {
		return storage.Invitation{}, dead("malformed", "This is not a valid invitation link: it is incomplete or damaged. Copy the whole link from the message you received.")
	}
	sum := sha256.Sum256([]byte(token))
	inv, err := iv.n.store.InvitationByHash(ctx, sum[:])
	if errors.Is(err, storage.ErrNotFound) || err == nil && subtle.ConstantTimeCompare(inv.TokenHash, sum[:]) != 1 {
		return storage.Invitation{}, dead("unknown", "This is not a valid invitation link: no invitation has this address.")
	}
	return inv, err
}

// validity applies the rules of SPEC.md section 2 at the node's clock.
func (iv *inviteService) validity(ctx context.Context, inv storage.Invitation) error {
	now := iv.n.now()
	var call *storage.Session
	var parts []storage.SessionParticipant
	if inv.SessionID != "" && inv.UsedAt == nil {
		s, err := iv.n.store.Session(ctx, inv.SessionID)
		if err != nil {
			return err
		}
		call = &s
		if parts, err = iv.n.store.SessionParticipants(ctx, inv.SessionID); err != nil {
			return err
		}
	}
	return linkValidity(inv, call, parts, now)
}

// linkValidity is the rule itself, on data already read: revoked, used,
// expired (service requests, 24 hours), the call ended, or everyone else
// left the call before the invitee joined (conference invitations).
func linkValidity(inv storage.Invitation, call *storage.Session, parts []storage.SessionParticipant, now time.Time) error {
	switch {
	case inv.RevokedAt != nil:
		return dead("revoked", "This invitation was withdrawn by the person who sent it.")
	case inv.UsedAt != nil:
		return dead("used", "This invitation link has already been used. Each link lets one person in.")
	case inv.ExpiresAt != nil && !now.Before(*inv.ExpiresAt):
		return dead("expired", fmt.Sprintf("This invitation link expired on %s UTC.", inv.ExpiresAt.UTC().Format("2 Jan 2006 at 15:04")))
	}
	if inv.Kind != storage.SessionConference || call == nil {
		return nil
	}
	if call.Status == storage.SessionEnded {
		return dead("call_ended", "The call you were invited to has ended.")
	}
	if t, ok := emptiedAt(parts, inv.CreatedAt); ok && !now.Before(t) {
		return dead("everyone_left", "Everyone else has left the call you were invited to, so the call is over.")
	}
	return nil
}

// emptiedAt returns the first moment, after the invitation was made, at
// which the call had participants and then none: from then on the link is
// dead, even if someone joins again.
func emptiedAt(parts []storage.SessionParticipant, since time.Time) (time.Time, bool) {
	type edge struct {
		at   time.Time
		join bool
	}
	var edges []edge
	for _, p := range parts {
		edges = append(edges, edge{p.JoinedAt, true})
		if p.LeftAt != nil {
			edges = append(edges, edge{*p.LeftAt, false})
		}
	}
	// Order by time; at the same instant, joins first.
	for i := 1; i < len(edges); i++ {
		for j := i; j > 0 && (edges[j].at.Before(edges[j-1].at) || edges[j].at.Equal(edges[j-1].at) && edges[j].join && !edges[j-1].join); j-- {
			edges[j], edges[j-1] = edges[j-1], edges[j]
		}
	}
	active := 0
	for _, e := range edges {
		if e.join {
			active++
			continue
		}
		active--
		if active == 0 && !e.at.Before(since) {
			return e.at, true
		}
	}
	return time.Time{}, false
}

// Inspect reports what a live link leads to.
func (iv *inviteService) Inspect(ctx context.Context, token string) (web.JoinInfo, error) {
	inv, err := iv.lookup(ctx, token)
	if err != nil {
		return web.JoinInfo{}, err
	}
	if err := iv.validity(ctx, inv); err != nil {
		return web.JoinInfo{}, err
	}
	info := web.JoinInfo{Kind: inv.Kind, TermsVersion: TermsVersion, Terms: termsText}
	if u, err := iv.n.store.User(ctx, inv.CreatedBy); err == nil {
		info.InviterName = u.Name
	}
	if inv.SessionID != "" {
		if s, err := iv.n.store.Session(ctx, inv.SessionID); err == nil {
			info.CallName = s.Name
		}
	} else {
		info.CallName = inv.Subject
	}
	return info, nil
}

// Redeem records the terms acceptance, marks the link used and admits a
// guest; a service request's call is created here and rings its expert.
func (iv *inviteService) Redeem(ctx context.Context, token string, in web.RedeemInput) (storage.Guest, error) {
	inv, err := iv.lookup(ctx, token)
	if err != nil {
		return storage.Guest{}, err
	}
	if err := iv.validity(ctx, inv); err != nil {
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
	if err := checkNameChars("name", in.Name); err != nil {
		return storage.Guest{}, err
	}
	now := iv.n.now().UTC()
	g := storage.Guest{ID: web.GuestIDPrefix + newID(), OrgID: inv.OrgID, InvitationID: inv.ID, SessionID: inv.SessionID,
		Kind: in.Kind, Name: in.Name, CreatedAt: now}
	r := storage.Redemption{InvitationID: inv.ID, At: now, Guest: g}
	if inv.Kind == storage.SessionServiceRequest {
		s := storage.Session{ID: newID(), OrgID: inv.OrgID, SiteID: iv.n.siteID, Kind: storage.SessionServiceRequest,
			Status: storage.SessionRinging, CreatedBy: inv.CreatedBy, StartedAt: now,
			Name: inv.Subject, Goal: inv.Goal}
		if s.Name == "" {
			s.Name = "Service request from " + in.Name
		}
		r.NewSession = &s
		r.Guest.SessionID = s.ID
	}
	r.Terms = storage.TermsAcceptance{ID: newID(), InvitationID: inv.ID, SessionID: r.Guest.SessionID, UserID: g.ID,
		TermsVersion: TermsVersion, AcceptedAt: now, Address: in.Address, UserAgent: in.UserAgent}
	if err := iv.n.store.RedeemInvitation(ctx, r); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.Guest{}, dead("used", "This invitation link has already been used. Each link lets one person in.")
		}
		return storage.Guest{}, err
	}
	if err := iv.n.audit(ctx, r.Guest.ID, "invitation.redeem", inv.ID,
		map[string]string{"call": r.Guest.SessionID, "kind": string(in.Kind), "terms_version": TermsVersion}); err != nil {
		return storage.Guest{}, err
	}
	if r.NewSession != nil {
		iv.n.log.Info("service request opened: ringing its expert", "call", r.NewSession.ID, "expert", inv.CreatedBy)
		iv.n.ring.Ring(*r.NewSession, r.Guest.Name)
	}
	return r.Guest, nil
}

// GuestActor is the actor of a guest's browser session: the in-call
// permissions of the guest's role, for the guest's call only, while that
// call has not ended.
func (iv *inviteService) GuestActor(ctx context.Context, guestID string) (web.Actor, error) {
	g, err := iv.n.store.Guest(ctx, guestID)
	if err != nil {
		return web.Actor{}, fmt.Errorf("guest %s: %w", guestID, storage.ErrUnauthenticated)
	}
	s, err := iv.n.store.Session(ctx, g.SessionID)
	if err != nil || s.Status == storage.SessionEnded {
		return web.Actor{}, fmt.Errorf("the call of guest %s is over: %w", guestID, storage.ErrUnauthenticated)
	}
	return web.Actor{UserID: g.ID, OrgID: g.OrgID, Name: g.Name, Kind: g.Kind, CallID: g.SessionID,
		Grants: iv.guestGrants(g.OrgID, g.Kind)}, nil
}

// guestGrants are the in-call permissions the organisation's policy grants
// the guest role of kind; anything else granted to the role is ignored.
func (iv *inviteService) guestGrants(orgID string, kind storage.UserKind) []string {
	sub := policy.RoleSubject(policy.GuestRole(kind))
	var out []string
	for _, r := range iv.n.authz.Rules(orgID) {
		if r.PType == policy.PTypeGrant && len(r.V) == 3 && r.V[0] == sub && strings.HasPrefix(r.V[2], "xa_icall_") {
			out = append(out, r.V[2])
		}
	}
	return out
}

// checkGuest answers the SFU's permission question for a guest: the
// in-call permissions of the guest's role, while the guest's call is open.
func (iv *inviteService) checkGuest(guestID, permission string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := iv.GuestActor(ctx, guestID)
	if err != nil {
		return err
	}
	if !slices.Contains(a.Grants, permission) {
		return &storage.ForbiddenError{Permission: permission}
	}
	return nil
}

// startInvites builds the invitation service and its outbox.
func (n *Node) startInvites() error {
	d, err := newDeliverer(n)
	if err != nil {
		return err
	}
	n.invites = &inviteService{n: n, d: d,
		emails: newEmailThrottle(n.cfg.Invite.EmailsPerUserPerHour, n.cfg.Invite.EmailsPerOrgPerHour)}
	return nil
}
