package org

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"siteline/node/internal/ids"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Member invitations: an administrator invites people by e-mail; each gets
// a single-use activation link and chooses a name and password, which
// creates their user with the roles and teams chosen up front. The
// invitation is organisation data, proposed through the replicated log like
// the user it creates, so the link works at every node of the federation.
// The link's token (256 random bits) is only in the e-mail; the store keeps
// its SHA-256.

const (
	// DefaultMemberInviteTTL is how long an activation link works when
	// MemberDeps.TTL is zero.
	DefaultMemberInviteTTL = 7 * 24 * time.Hour
	// MaxMemberInvites is how many addresses one invitation takes.
	MaxMemberInvites = 50
	// memberTokenLen is the length of a token: 32 bytes, base64url.
	memberTokenLen = 43
)

// MemberStore reads member invitations and the organisation's name.
type MemberStore interface {
	storage.MemberInvitationReader
	Org(ctx context.Context, id string) (storage.Org, error)
}

// Mailer is the node's mail outbox (the invitation service's, node/invites,
// through an adapter of node's): one SMTP configuration, one sender, one
// outbox with retries.
type Mailer interface {
	// MailConfigured says why e-mail cannot be sent, nil when it can.
	MailConfigured() error
	// QueueMail writes the e-mail of an invitation's link to the outbox
	// (on disk when it returns), cancelling the invitation's e-mail still
	// pending, and attempts it once; the outbox retries it with backoff
	// until it is sent.
	QueueMail(ctx context.Context, m MemberMail) (storage.MailDelivery, error)
	// CancelMail cancels the pending e-mail of an invitation.
	CancelMail(ctx context.Context, invitationID string) error
	// Mails lists the e-mails of invitations, newest first.
	Mails(ctx context.Context, invitationIDs []string) ([]storage.MailDelivery, error)
}

// MemberMail is the e-mail of a member invitation's link.
type MemberMail struct {
	OrgID, InvitationID, To string
	Subject, Text, HTML     string
}

// MemberDeps is what member invitations need besides the Service's Deps.
type MemberDeps struct {
	Store MemberStore
	Mail  Mailer
	// URL is the address users open, known once the node listens.
	URL func() string
	// TTL is how long a link works; DefaultMemberInviteTTL when zero.
	TTL time.Duration
}

// Members implements web.Members on top of a Service.
type Members struct {
	s *Service
	d MemberDeps
}

var _ web.Members = (*Members)(nil)

// NewMembers builds the member invitation use cases on s.
func NewMembers(s *Service, d MemberDeps) (*Members, error) {
	if d.Store == nil || d.Mail == nil || d.URL == nil {
		return nil, errors.New("org: MemberDeps needs a Store, a Mailer and a URL")
	}
	if d.TTL <= 0 {
		d.TTL = DefaultMemberInviteTTL
	}
	return &Members{s: s, d: d}, nil
}

func (m *Members) InviteMembers(ctx context.Context, a web.Actor, in web.MemberInviteInput) ([]web.MemberInvitationOut, error) {
	if err := m.d.Mail.MailConfigured(); err != nil {
		return nil, err
	}
	emails, err := m.addresses(ctx, a.OrgID, in.Emails)
	if err != nil {
		return nil, err
	}
	roles := in.Roles
	if roles == nil {
		roles = []string{policy.RoleRegular}
	}
	if err := m.s.checkRoles(ctx, a.OrgID, roles); err != nil {
		return nil, err
	}
	if err := checkAccountRoles(roles); err != nil {
		return nil, err
	}
	if err := m.s.mayGrantRoles(a, roles); err != nil {
		return nil, err
	}
	teams, err := m.teams(ctx, a, in.Teams)
	if err != nil {
		return nil, err
	}
	now := m.s.d.Now().UTC()
	invs := make([]storage.MemberInvitation, len(emails))
	tokens := make([]string, len(emails))
	changes := make([]storage.Change, len(emails))
	for i, email := range emails {
		token, hash := newMemberToken()
		invs[i] = storage.MemberInvitation{ID: ids.New(), OrgID: a.OrgID, Email: email, Roles: roles, TeamIDs: teams,
			CreatedBy: actorID(a), CreatedAt: now, SentAt: now, Sends: 1, ExpiresAt: now.Add(m.d.TTL)}
		tokens[i] = token
		changes[i] = storage.Change{Op: storage.OpPutMemberInvite, MemberInvitation: &invs[i], TokenHash: hash}
	}
	e := entry{"member.invite", strings.Join(emails, ","), map[string]any{"emails": emails, "roles": roles, "teams": teams}}
	if err := m.s.commit(ctx, a, e, changes...); err != nil {
		return nil, err
	}
	out := make([]web.MemberInvitationOut, len(invs))
	for i, inv := range invs {
		out[i] = m.send(ctx, a, inv, tokens[i])
	}
	return out, nil
}

// addresses normalises the list of addresses to invite, refusing the
// whole of it for one bad address, a member or one invited already.
func (m *Members) addresses(ctx context.Context, orgID string, in []string) ([]string, error) {
	var emails []string
	for _, s := range in {
		if strings.TrimSpace(s) == "" {
			continue
		}
		e, err := normEmail("emails", s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(emails, e) {
			emails = append(emails, e)
		}
	}
	switch {
	case len(emails) == 0:
		return nil, validation("emails", "is empty: give at least one e-mail address")
	case len(emails) > MaxMemberInvites:
		return nil, validation("emails", fmt.Sprintf("has %d addresses: invite at most %d at once", len(emails), MaxMemberInvites))
	}
	pending, err := m.d.Store.MemberInvitations(ctx, orgID)
	if err != nil {
		return nil, err
	}
	now := m.s.d.Now()
	for _, e := range emails {
		if _, err := m.s.d.Store.UserByEmail(ctx, orgID, e); err == nil {
			return nil, validation("emails", fmt.Sprintf("%s is already a member of the organisation", e))
		}
		for _, p := range pending {
			if p.Email == e && p.State(now) == storage.MemberInvitePending {
				return nil, validation("emails", fmt.Sprintf("%s is invited already (pending until %s): resend that invitation instead",
					e, p.ExpiresAt.UTC().Format(time.RFC3339)))
			}
		}
	}
	return emails, nil
}

// teams checks the teams an invitation puts its user in.
func (m *Members) teams(ctx context.Context, a web.Actor, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		if id == "" || slices.Contains(out, id) {
			continue
		}
		t, err := m.s.d.Store.Team(ctx, id)
		if errors.Is(err, storage.ErrNotFound) || err == nil && t.OrgID != a.OrgID {
			return nil, validation("teams", fmt.Sprintf("%q is not a team of this organisation", id))
		}
		if err != nil {
			return nil, err
		}
		if err := m.s.mayJoinTeam(a, id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func (m *Members) MemberInvitations(ctx context.Context, a web.Actor) ([]web.MemberInvitationOut, error) {
	invs, err := m.d.Store.MemberInvitations(ctx, a.OrgID)
	if err != nil {
		return nil, err
	}
	now := m.s.d.Now()
	out := make([]web.MemberInvitationOut, 0, len(invs))
	var open []string
	for _, inv := range invs {
		o := web.MemberInvitationOut{MemberInvitation: inv, State: inv.State(now)}
		if o.State == storage.MemberInvitePending || o.State == storage.MemberInviteExpired {
			open = append(open, inv.ID)
		}
		out = append(out, o)
	}
	// The e-mail state of the invitations still open: the newest e-mail of
	// each, as this node sent it (another node's sends are its own).
	mails, err := m.d.Mail.Mails(ctx, open)
	if err != nil {
		return nil, err
	}
	latest := map[string]storage.MailDelivery{}
	for _, ml := range mails {
		if _, ok := latest[ml.RefID]; !ok {
			latest[ml.RefID] = ml
		}
	}
	for i := range out {
		if ml, ok := latest[out[i].ID]; ok {
			out[i].Mail, out[i].MailError = mailState(ml)
		}
	}
	return out, nil
}

// mailState is how an invitation's e-mail stands, and why it is not sent.
func mailState(ml storage.MailDelivery) (state, why string) {
	if ml.Status == storage.DeliverySent {
		return ml.Status, ""
	}
	return ml.Status, ml.LastError
}

// invitation returns the invitation id of the actor's organisation.
func (m *Members) invitation(ctx context.Context, a web.Actor, id string) (storage.MemberInvitation, error) {
	inv, err := m.d.Store.MemberInvitation(ctx, id)
	if err != nil {
		return inv, err
	}
	if inv.OrgID != a.OrgID {
		return storage.MemberInvitation{}, notFound("member invitation", id)
	}
	return inv, nil
}

// ResendMemberInvitation sends a new link, valid for the full lifetime
// again, to an invitation pending or expired; the old link stops working.
func (m *Members) ResendMemberInvitation(ctx context.Context, a web.Actor, id string) (web.MemberInvitationOut, error) {
	if err := m.d.Mail.MailConfigured(); err != nil {
		return web.MemberInvitationOut{}, err
	}
	inv, err := m.invitation(ctx, a, id)
	if err != nil {
		return web.MemberInvitationOut{}, err
	}
	if st := inv.State(m.s.d.Now()); st == storage.MemberInviteUsed || st == storage.MemberInviteRevoked {
		return web.MemberInvitationOut{}, fmt.Errorf("the invitation of %s was %s: it cannot be sent again: %w", inv.Email, st, storage.ErrConflict)
	}
	now := m.s.d.Now().UTC()
	token, hash := newMemberToken()
	inv.SentAt, inv.Sends, inv.ExpiresAt = now, inv.Sends+1, now.Add(m.d.TTL)
	e := entry{"member.invite.resend", inv.ID, map[string]any{"email": inv.Email, "sends": inv.Sends}}
	if err := m.s.commit(ctx, a, e, storage.Change{Op: storage.OpPutMemberInvite, MemberInvitation: &inv, TokenHash: hash}); err != nil {
		return web.MemberInvitationOut{}, err
	}
	return m.send(ctx, a, inv, token), nil
}

func (m *Members) RevokeMemberInvitation(ctx context.Context, a web.Actor, id string) error {
	inv, err := m.invitation(ctx, a, id)
	if err != nil {
		return err
	}
	if st := inv.State(m.s.d.Now()); st == storage.MemberInviteUsed || st == storage.MemberInviteRevoked {
		return fmt.Errorf("the invitation of %s was %s already: %w", inv.Email, st, storage.ErrConflict)
	}
	now := m.s.d.Now().UTC()
	inv.RevokedAt = &now
	if err := m.s.commit(ctx, a, entry{"member.invite.revoke", inv.ID, map[string]any{"email": inv.Email}},
		storage.Change{Op: storage.OpRevokeMemberInvite, MemberInvitation: &inv}); err != nil {
		return err
	}
	// The revocation stands; an e-mail still pending here would only carry
	// a dead link.
	if err := m.d.Mail.CancelMail(ctx, inv.ID); err != nil {
		m.s.d.Log.Warn("cancel the e-mail of a revoked invitation", "invitation", inv.ID, "err", err)
	}
	return nil
}

// InspectActivation finds the pending invitation of a token.
func (m *Members) InspectActivation(ctx context.Context, token string) (web.ActivationInfo, error) {
	inv, _, err := m.pending(ctx, token)
	if err != nil {
		return web.ActivationInfo{}, err
	}
	info := web.ActivationInfo{Email: inv.Email, ExpiresAt: inv.ExpiresAt}
	if o, err := m.d.Store.Org(ctx, inv.OrgID); err == nil {
		info.OrgName = o.Name
	}
	return info, nil
}

// Activate creates the invited user and marks the invitation used in one
// command. The apply refuses it when the invitation is no longer pending
// (used or revoked meanwhile, at any node) or its token was replaced, so of
// two uses of one link exactly one creates a user.
func (m *Members) Activate(ctx context.Context, token string, in web.ActivationInput) (storage.User, error) {
	inv, hash, err := m.pending(ctx, token)
	if err != nil {
		return storage.User{}, err
	}
	name := strings.TrimSpace(in.Name)
	if err := checkName("name", name); err != nil {
		return storage.User{}, err
	}
	if err := CheckPasswordStrength("password", in.Password); err != nil {
		return storage.User{}, err
	}
	if _, err := m.s.d.Store.UserByEmail(ctx, inv.OrgID, inv.Email); err == nil {
		return storage.User{}, &web.DeadLinkError{Reason: "used",
			Message: fmt.Sprintf("%s has an account already: log in with it.", inv.Email)}
	}
	pw, err := m.s.d.Hasher.Hash(in.Password)
	if err != nil {
		return storage.User{}, err
	}
	now := m.s.d.Now().UTC()
	u := storage.User{ID: ids.New(), OrgID: inv.OrgID, Email: inv.Email, Name: name, Kind: storage.UserRegular,
		Active: true, CreatedAt: now, UpdatedAt: now}
	used := inv
	used.UsedAt, used.UserID = &now, u.ID
	changes := []storage.Change{
		{Op: storage.OpAcceptMemberInvite, MemberInvitation: &used, TokenHash: hash},
		{Op: storage.OpPutUser, User: &u, PasswordHash: pw},
	}
	roles, teams, labels, err := m.stillThere(ctx, inv)
	if err != nil {
		return storage.User{}, err
	}
	if rules := assignments(inv.OrgID, u.ID, roles); len(rules) > 0 {
		changes = append(changes, storage.Change{Op: storage.OpAddPolicy, Rules: rules})
	}
	for _, t := range teams {
		changes = append(changes, storage.Change{Op: storage.OpSetTeamMember,
			Membership: &storage.TeamMembership{TeamID: t, UserID: u.ID, Role: storage.TeamMember}})
	}
	if len(labels) > 0 {
		changes = append(changes, storage.Change{Op: storage.OpSetUserLabels, ID: u.ID, LabelIDs: labels})
	}
	self := web.Actor{UserID: u.ID, OrgID: u.OrgID, Name: u.Name, Email: u.Email}
	e := entry{"member.activate", u.ID, map[string]any{"invitation": inv.ID, "email": u.Email, "roles": roles, "teams": teams}}
	if err := m.s.commit(ctx, self, e, changes...); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			// Used, revoked or renewed meanwhile: say which.
			if _, _, perr := m.pending(ctx, token); perr != nil {
				return storage.User{}, perr
			}
		}
		return storage.User{}, err
	}
	// Activating logs the member in (the web layer starts their session).
	m.s.loggedIn(ctx, u.ID)
	u.PasswordHash = pw
	return u, nil
}

// stillThere keeps the invitation's roles, teams and labels that still
// exist: one deleted since the invitation was sent is left out rather than
// failing the activation.
func (m *Members) stillThere(ctx context.Context, inv storage.MemberInvitation) (roles, teams, labels []string, err error) {
	return m.s.invitationStillThere(ctx, inv)
}

// invitationStillThere is stillThere for a Service (single sign-on accepts
// invitations too, node/org/sso.go).
func (s *Service) invitationStillThere(ctx context.Context, inv storage.MemberInvitation) (roles, teams, labels []string, err error) {
	defined, err := s.d.Store.Roles(ctx, inv.OrgID)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, r := range inv.Roles {
		if hasRole(defined, r) {
			roles = append(roles, r)
		}
	}
	for _, id := range inv.TeamIDs {
		t, err := s.d.Store.Team(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if t.OrgID == inv.OrgID {
			teams = append(teams, id)
		}
	}
	if len(inv.LabelIDs) > 0 {
		all, err := s.d.Store.Labels(ctx, inv.OrgID)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, l := range all {
			if slices.Contains(inv.LabelIDs, l.ID) {
				labels = append(labels, l.ID)
			}
		}
	}
	return roles, teams, labels, nil
}

// pending finds the invitation of token and its hash, or says in a
// *web.DeadLinkError why the link cannot be used.
func (m *Members) pending(ctx context.Context, token string) (storage.MemberInvitation, []byte, error) {
	dead := func(reason, msg string) error { return &web.DeadLinkError{Reason: reason, Message: msg} }
	if !wellFormedToken(token) {
		return storage.MemberInvitation{}, nil, dead("malformed", "This is not a valid activation link: check that it was copied whole.")
	}
	sum := sha256.Sum256([]byte(token))
	inv, err := m.d.Store.MemberInvitationByHash(ctx, sum[:])
	if errors.Is(err, storage.ErrNotFound) {
		return inv, nil, dead("unknown", "This activation link does not exist, or a newer link replaced it: use the latest e-mail you received.")
	}
	if err != nil {
		return inv, nil, err
	}
	if subtle.ConstantTimeCompare(inv.TokenHash, sum[:]) != 1 {
		return inv, nil, dead("unknown", "This activation link does not exist, or a newer link replaced it: use the latest e-mail you received.")
	}
	switch inv.State(m.s.d.Now()) {
	case storage.MemberInviteUsed:
		return inv, nil, dead("used", "This activation link was used already: the account exists. Log in with it.")
	case storage.MemberInviteRevoked:
		return inv, nil, dead("revoked", "This invitation was withdrawn by an administrator.")
	case storage.MemberInviteExpired:
		return inv, nil, dead("expired", fmt.Sprintf("This activation link expired on %s.", inv.ExpiresAt.UTC().Format("2 January 2006 at 15:04 UTC")))
	}
	return inv, sum[:], nil
}

func wellFormedToken(t string) bool {
	if len(t) != memberTokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(t)
	return err == nil
}

// newMemberToken makes a link's token, 256 random bits, and its SHA-256.
func newMemberToken() (string, []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

var memberMailHTML = template.Must(template.New("member").Parse(`<!doctype html><html><body style="font-family:sans-serif">
<p>Hello,</p>
<p>{{.Inviter}} invites you to join {{.Org}} on Siteline, the remote assistance service of your plant.</p>
<p><a href="{{.Link}}">Activate your account</a></p>
<p style="color:#555">The link works once, until {{.Until}}. Do not forward it: it creates your account.</p>
</body></html>`))

// send queues the e-mail of inv's link in the outbox, which attempts it at
// once and retries it until sent; how the first attempt went is on the
// result. When even queueing fails the invitation stands: it can be
// resent.
func (m *Members) send(ctx context.Context, a web.Actor, inv storage.MemberInvitation, token string) web.MemberInvitationOut {
	out := web.MemberInvitationOut{MemberInvitation: inv, State: inv.State(m.s.d.Now())}
	link := strings.TrimRight(m.d.URL(), "/") + "/activate/" + token
	inviter := a.Name
	if inviter == "" {
		inviter = "An administrator"
	}
	org := "your organisation"
	if o, err := m.d.Store.Org(ctx, inv.OrgID); err == nil && o.Name != "" {
		org = o.Name
	}
	until := inv.ExpiresAt.UTC().Format("2 January 2006 at 15:04 UTC")
	text := fmt.Sprintf("Hello,\n\n%s invites you to join %s on Siteline, the remote assistance service of your plant.\n\n"+
		"Activate your account: %s\n\nThe link works once, until %s. Do not forward it: it creates your account.\n",
		inviter, org, link, until)
	var html strings.Builder
	_ = memberMailHTML.Execute(&html, map[string]string{"Inviter": inviter, "Org": org, "Link": link, "Until": until})
	subject := "Your Siteline account: " + org
	ml, err := m.d.Mail.QueueMail(ctx, MemberMail{OrgID: inv.OrgID, InvitationID: inv.ID, To: inv.Email,
		Subject: subject, Text: text, HTML: html.String()})
	if err != nil {
		m.s.d.Log.Warn("member invitation e-mail not queued", "invitation", inv.ID, "to", inv.Email, "err", err)
		out.Mail, out.MailError = storage.DeliveryFailed, err.Error()
		return out
	}
	out.Mail, out.MailError = mailState(ml)
	return out
}
