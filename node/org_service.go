package node

import (
	"context"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"siteline/node/invites"
	"siteline/node/org"
	"siteline/storage"
)

// startPasswords makes the password hasher and the first-password mark,
// which the first start needs before the organisation service exists.
func (n *Node) startPasswords() {
	cost := org.DefaultCost
	if n.opts.PasswordCost != nil {
		cost = *n.opts.PasswordCost
	}
	n.passwords = org.NewHasher(cost, runtime.NumCPU())
	n.firstPassword = org.NewFirstPassword(n.store, n.cfg.path(InitialPasswordFile), n.log)
}

// startOrg builds the organisation service (node/org) once the node knows
// its organisation and site, which its audit entries carry.
func (n *Node) startOrg() error {
	lost := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "siteline_audit_failures_total",
		Help: "Audit entries not written after their organisation change was committed.",
	})
	if err := n.reg.Register(lost); err != nil {
		return err
	}
	svc, err := org.New(org.Deps{
		Proposer:        n.raft,
		Store:           n.store,
		Enforcer:        n.authz,
		Audit:           n.auditor(),
		Hasher:          n.passwords,
		FirstPassword:   n.firstPassword,
		TokenDefaultTTL: n.cfg.Tokens.DefaultTTL,
		TokenMaxTTL:     n.cfg.Tokens.MaxTTL,
		AuditFailures:   lost,
		Logins:          n.store,
		SSO:             n.store,
		Now:             n.now,
		Log:             n.log.With("component", "org"),
	})
	if err != nil {
		return err
	}
	n.admin = svc
	return nil
}

// startMembers builds the member invitations on the organisation service;
// their e-mails go through the invitation service's outbox.
func (n *Node) startMembers() error {
	m, err := org.NewMembers(n.admin, org.MemberDeps{Store: n.store, Mail: memberMailer{n.invites}, URL: n.URL, TTL: n.cfg.Invite.MemberLinkTTL})
	if err != nil {
		return err
	}
	n.members = m
	return nil
}

// memberMailer puts the e-mails of member invitations in the invitation
// service's outbox.
type memberMailer struct{ s *invites.Service }

func (m memberMailer) MailConfigured() error { return m.s.MailConfigured() }

func (m memberMailer) QueueMail(ctx context.Context, ml org.MemberMail) (storage.MailDelivery, error) {
	return m.s.QueueMail(ctx, invites.Mail{OrgID: ml.OrgID, Kind: storage.MailMemberInvitation, RefID: ml.InvitationID,
		To: ml.To, Subject: ml.Subject, Text: ml.Text, HTML: ml.HTML})
}

func (m memberMailer) CancelMail(ctx context.Context, invitationID string) error {
	return m.s.CancelMail(ctx, storage.MailMemberInvitation, invitationID)
}

func (m memberMailer) Mails(ctx context.Context, invitationIDs []string) ([]storage.MailDelivery, error) {
	return m.s.Mails(ctx, storage.MailMemberInvitation, invitationIDs)
}

// CanSupervise decides a supervision action of supervisorID on targetID
// (org.Service.CanSupervise).
func (n *Node) CanSupervise(ctx context.Context, orgID, supervisorID, targetID, permission string) error {
	return n.admin.CanSupervise(ctx, orgID, supervisorID, targetID, permission)
}

// orgMemberships returns the memberships of every team of orgID.
func (n *Node) orgMemberships(ctx context.Context, orgID string) ([]storage.TeamMembership, error) {
	return n.admin.Memberships(ctx, orgID)
}

// GeneratePassword makes a random password of 24 characters (144 bits).
func GeneratePassword() string { return org.GeneratePassword() }
