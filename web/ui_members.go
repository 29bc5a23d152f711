package web

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// The users page's invitation form and pending list, and the public
// activation page an invitation's link opens.

// splitAddresses reads the invitation form's text area: addresses one a
// line, or separated by commas, semicolons or spaces.
func splitAddresses(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t'
	})
}

func (s *Server) uiInviteMembers(c *fiber.Ctx) error {
	f := readForm(c, "invite", "emails", "roles", "teams")
	a, _ := actorOf(c)
	out, err := s.deps.Members.InviteMembers(c.UserContext(), a, MemberInviteInput{
		Emails: splitAddresses(f.V("emails")), Roles: nonNil(f.All("roles")), Teams: f.All("teams"),
	})
	if err != nil {
		if f.Field == "" {
			f.Field = "emails"
		}
		return failed(c, f, err, s.showUsers)
	}
	msg := fmt.Sprintf("Invited %d %s: each gets an activation link by e-mail.", len(out), plural(len(out), "person", "people"))
	if bad := mailErrors(out); bad != "" {
		msg += " The e-mail to " + bad + " could not be sent yet: it is retried automatically, and the list below shows how it stands."
	}
	return done(c, "/users#invitations", msg)
}

func mailErrors(out []MemberInvitationOut) string {
	var bad []string
	for _, o := range out {
		if o.MailError != "" {
			bad = append(bad, o.Email)
		}
	}
	return strings.Join(bad, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (s *Server) uiResendMemberInvitation(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Members.ResendMemberInvitation(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return failed(c, &formState{Name: "invitations"}, err, s.showUsers)
	}
	switch {
	case out.Mail == storage.DeliveryPending:
		return done(c, "/users#invitations", fmt.Sprintf("Made a new activation link for %s; the e-mail could not be sent yet (%s) and is retried automatically.",
			out.Email, out.MailError))
	case out.MailError != "":
		return done(c, "/users#invitations", fmt.Sprintf("Made a new activation link for %s, but the e-mail could not be sent (%s): resend it later.",
			out.Email, out.MailError))
	}
	return done(c, "/users#invitations", fmt.Sprintf("Sent a new activation link to %s.", out.Email))
}

func (s *Server) uiRevokeMemberInvitation(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Members.RevokeMemberInvitation(c.UserContext(), a, param(c, "id")); err != nil {
		return failed(c, &formState{Name: "invitations"}, err, s.showUsers)
	}
	return done(c, "/users#invitations", "Revoked the invitation: its link no longer works.")
}

type activateData struct {
	Token string
	Info  ActivationInfo
	Dead  *DeadLinkError
}

func (s *Server) uiActivate(c *fiber.Ctx) error {
	linkHeaders(c)
	token := param(c, "token")
	info, err := s.deps.Members.InspectActivation(c.UserContext(), token)
	if err != nil {
		return s.deadActivationPage(c, err)
	}
	return s.activatePage(c, fiber.StatusOK, token, info, &formState{})
}

func (s *Server) activatePage(c *fiber.Ctx, status int, token string, info ActivationInfo, f *formState) error {
	v := s.view(c, "Activate your account", "")
	v.LoggedIn = false
	v.Form = f
	v.Data = activateData{Token: token, Info: info}
	return s.ui.render(c, status, "activate", v)
}

// deadActivationPage says in plain words why an activation link cannot be
// used: used, revoked, expired or unknown.
func (s *Server) deadActivationPage(c *fiber.Ctx, err error) error {
	var dl *DeadLinkError
	if !errors.As(err, &dl) {
		return err
	}
	v := s.view(c, "This link cannot be used", "")
	v.LoggedIn = false
	v.Data = activateData{Dead: dl}
	return s.ui.render(c, dl.Status(), "activate", v)
}

func (s *Server) uiActivatePost(c *fiber.Ctx) error {
	linkHeaders(c)
	if err := s.sameSite(c); err != nil { // no session yet, as at login
		return err
	}
	token := param(c, "token")
	f := readForm(c, "activate", "name")
	pw := secret(c, "password")
	var err error
	var u storage.User
	if pw != secret(c, "confirm") {
		err = invalid("confirm", "does not match the password")
	} else {
		u, err = s.deps.Members.Activate(c.UserContext(), token, ActivationInput{Name: f.V("name"), Password: pw})
	}
	if err != nil {
		var dl *DeadLinkError
		if errors.As(err, &dl) {
			return s.deadActivationPage(c, err)
		}
		info, ierr := s.deps.Members.InspectActivation(c.UserContext(), token)
		if ierr != nil {
			return s.deadActivationPage(c, ierr)
		}
		return failed(c, f, err, func(c *fiber.Ctx, status int, f *formState) error {
			return s.activatePage(c, status, token, info, f)
		})
	}
	if _, err := s.startSession(c, u); err != nil {
		return err
	}
	setFlash(c, "Welcome to Siteline, "+u.Name+": your account is active.")
	return c.Redirect(s.afterLogin(Actor{UserID: u.ID, OrgID: u.OrgID}, ""), fiber.StatusSeeOther)
}
