package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Members invites people by e-mail to become users of the organisation and
// turns their activation links into accounts. Invitations are organisation
// data: a link works at every node.
type Members interface {
	// InviteMembers invites every address of in at once, or none: a bad,
	// duplicate or already-member address refuses the whole list.
	InviteMembers(ctx context.Context, a Actor, in MemberInviteInput) ([]MemberInvitationOut, error)
	// MemberInvitations lists the organisation's invitations, newest first.
	MemberInvitations(ctx context.Context, a Actor) ([]MemberInvitationOut, error)
	// ResendMemberInvitation sends a fresh link (the old one stops
	// working) with a fresh validity.
	ResendMemberInvitation(ctx context.Context, a Actor, id string) (MemberInvitationOut, error)
	RevokeMemberInvitation(ctx context.Context, a Actor, id string) error

	// InspectActivation tells whether an activation link can be used; a
	// *DeadLinkError says why not.
	InspectActivation(ctx context.Context, token string) (ActivationInfo, error)
	// Activate creates the invited user with the password chosen and
	// marks the link used, in one change; a *DeadLinkError when the link
	// cannot be used (of two concurrent uses, one gets it).
	Activate(ctx context.Context, token string, in ActivationInput) (storage.User, error)
}

// MemberInviteInput invites people: their addresses, and the roles and
// teams each will have.
type MemberInviteInput struct {
	Emails []string `json:"emails"`
	Roles  []string `json:"roles"`
	Teams  []string `json:"teams"` // team ids
}

// MemberInvitationOut is an invitation as an administrator sees it; the
// link itself is only in the e-mail.
type MemberInvitationOut struct {
	storage.MemberInvitation
	State string `json:"state"` // pending | used | revoked | expired
	// Mail is how the newest e-mail of the link stands at this node:
	// sent, pending (it is retried), failed (given up: resend the
	// invitation) or cancelled; "" when this node sent none.
	Mail string `json:"mail,omitempty"`
	// MailError says why the e-mail is not sent yet, or was given up.
	MailError string `json:"mail_error,omitempty"`
}

// ActivationInfo is what the activation page shows.
type ActivationInfo struct {
	Email     string    `json:"email"`
	OrgName   string    `json:"org_name"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ActivationInput is the invitee's answer: their name and password.
type ActivationInput struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

func (s *Server) memberRoutes() []route {
	p := APIPrefix
	return []route{
		{method: "POST", path: p + "/member-invitations", perm: policy.AdminMembers, summary: "Invite people by e-mail to become users, with their roles and teams (all addresses or none)", in: MemberInviteInput{}, out: []MemberInvitationOut{}, handler: s.apiInviteMembers},
		{method: "GET", path: p + "/member-invitations", perm: policy.AdminMembers, summary: "The organisation's member invitations and their state", out: []MemberInvitationOut{}, handler: s.apiMemberInvitations},
		{method: "POST", path: p + "/member-invitations/:id/resend", perm: policy.AdminMembers, summary: "Send a member invitation again with a fresh link", out: MemberInvitationOut{}, handler: s.apiResendMemberInvitation},
		{method: "DELETE", path: p + "/member-invitations/:id", perm: policy.AdminMembers, summary: "Revoke a pending member invitation", handler: s.apiRevokeMemberInvitation},
		{method: "POST", path: "/member-invitations", perm: policy.AdminMembers, page: true, summary: "Invite people by e-mail", handler: s.uiInviteMembers},
		{method: "POST", path: "/member-invitations/:id/resend", perm: policy.AdminMembers, page: true, summary: "Send a member invitation again", handler: s.uiResendMemberInvitation},
		{method: "POST", path: "/member-invitations/:id/revoke", perm: policy.AdminMembers, page: true, summary: "Revoke a member invitation", handler: s.uiRevokeMemberInvitation},
		{method: "GET", path: "/activate/:token", public: true, page: true, summary: "Activation page of a member invitation: choose a name and password", handler: s.uiActivate},
		{method: "POST", path: "/activate/:token", public: true, page: true, summary: "Activate an account from a member invitation; logs in", handler: s.uiActivatePost},
	}
}

func (s *Server) apiInviteMembers(c *fiber.Ctx) error {
	var in MemberInviteInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	out, err := s.deps.Members.InviteMembers(c.UserContext(), a, in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) apiMemberInvitations(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Members.MemberInvitations(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiResendMemberInvitation(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Members.ResendMemberInvitation(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiRevokeMemberInvitation(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Members.RevokeMemberInvitation(c.UserContext(), a, param(c, "id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
