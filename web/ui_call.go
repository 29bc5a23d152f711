package web

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// callUIRoutes are the call pages: starting a call from the backoffice and
// the in-call page, whose script (call.js) speaks the signaling protocol
// over GET /api/v1/calls/:id/signal.
func (s *Server) callUIRoutes() []route {
	return []route{
		{method: "POST", path: "/calls", perm: policy.CreateConference, page: true, summary: "Start a call and open it", handler: s.uiStartCall},
		{method: "GET", path: "/calls/:id", perm: policy.CallJoin, page: true, summary: "The call page: preview, then the call", handler: s.uiCall},
	}
}

// uiStartCall creates a call with the name and goal typed in the new-call
// dialog, and takes the caller to its page. A call left unnamed (or whose
// caller skipped the dialog) is named after the contact called, if any,
// else after its caller.
func (s *Server) uiStartCall(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	in := CallInput{Name: strings.TrimSpace(c.FormValue("name")), Goal: strings.TrimSpace(c.FormValue("goal"))}
	if c.FormValue("skip") != "" {
		in = CallInput{}
	}
	var ct *storage.Contact
	if id := strings.TrimSpace(c.FormValue("contact")); id != "" {
		got, err := s.orgContact(c, id)
		if err != nil {
			return err
		}
		ct = &got
	}
	if in.Name == "" {
		if ct != nil {
			in.Name = "Call with " + ct.Name
		} else if a.Name != "" {
			in.Name = "Call by " + a.Name
		}
	}
	sess, err := s.deps.Calls.CreateCall(c.UserContext(), a, in)
	if err != nil {
		return err
	}
	if ct != nil {
		s.inviteContact(c, a, sess.ID, *ct)
	}
	return c.Redirect("/calls/"+sess.ID, fiber.StatusSeeOther)
}

// inviteContact sends an external contact called from the phonebook a
// link to the call: by e-mail, else by SMS. The call opens either way; the
// flash says what was sent, or why nothing was.
func (s *Server) inviteContact(c *fiber.Ctx, a Actor, callID string, ct storage.Contact) {
	in := InviteInput{Channel: "email", To: ct.Email, Name: ct.Name}
	how := "by e-mail to " + ct.Email
	if ct.Email == "" {
		in.Channel, in.To, how = "sms", ct.Phone, "by SMS to "+ct.Phone
	}
	switch {
	case ct.UserID != "" || (ct.Email == "" && ct.Phone == ""):
		return // a colleague's entry, or no address: nothing to send
	case s.deps.Invites == nil:
		return
	case in.Channel == "sms" && !s.smsConfigured():
		setFlash(c, fmt.Sprintf("The call started. %s has no e-mail address and SMS is not set up on this node: send them the call's link yourself (Invite, then Link only).", ct.Name))
		return
	}
	if _, err := s.deps.Invites.InviteToCall(c.UserContext(), a, callID, in); err != nil {
		setFlash(c, fmt.Sprintf("The call started, but %s was not invited %s: %v", ct.Name, how, err))
		return
	}
	setFlash(c, fmt.Sprintf("Invited %s to the call %s.", ct.Name, how))
}

// callData is what call.html shows and hands to call.js (as data-
// attributes: the page runs no inline script).
type callData struct {
	Call                      storage.Session
	Title                     string
	CanEnd, CanChat, CanShare bool
	CanCamera, CanMic         bool
	// In-call tools: freeze frame, pointer and drawing; files; recording.
	CanAnnotate, CanFiles, CanRecord bool
	Ended                            bool
	// CanInvite shows the invite button (xa_ocall_contact_list_invite-guestusers);
	// Guest swaps the ways back to the backoffice for signing out.
	CanInvite, Guest bool
	// TransferPeople and TransferTeams are whom a supervisor sitting in
	// may hand the session to (xa_icall_transfer): the people of their
	// teams, and the teams' queues.
	TransferPeople []storage.User
	TransferTeams  []storage.Team
}

func (s *Server) uiCall(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	sess, err := s.deps.Calls.Call(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	d := callData{Call: sess, Title: sess.Name, Ended: sess.Status == storage.SessionEnded,
		CanEnd: s.can(a, policy.CallEndForAll), CanChat: s.can(a, policy.CallChat),
		CanShare: s.can(a, policy.CallScreenShare), CanCamera: s.can(a, policy.CallPublishCamera),
		CanMic:      s.can(a, policy.CallPublishMicrophone),
		CanAnnotate: s.can(a, policy.CallSnapshotAnnotate), CanFiles: s.can(a, policy.CallShareFiles),
		CanRecord: s.can(a, policy.CallRecord),
		CanInvite: s.can(a, policy.InviteGuestUsers) && !a.isGuest(), Guest: a.isGuest()}
	if d.Title == "" {
		d.Title = "Call " + shortID(sess.ID)
	}
	if !a.isGuest() && s.can(a, policy.CallTransfer) {
		d.TransferPeople, d.TransferTeams = s.transferTargets(c, a)
	}
	v := s.view(c, d.Title, "")
	v.Data = d
	set, err := s.ui.set("call")
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, "callpage", v); err != nil {
		return fmt.Errorf("render call page: %w", err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(fiber.StatusOK).Send(buf.Bytes())
}

// transferTargets lists the people in the actor's supervision scope but
// the actor, and the teams whose queues may take a session; what cannot be
// read is left out (the transfer itself is checked when it is asked for).
func (s *Server) transferTargets(c *fiber.Ctx, a Actor) ([]storage.User, []storage.Team) {
	var people []storage.User
	if s.deps.Policy != nil {
		if us, err := s.deps.Policy.SupervisionScope(c.UserContext(), a, a.UserID); err == nil {
			for _, u := range us {
				if u.ID != a.UserID {
					people = append(people, u)
				}
			}
		}
	}
	var teams []storage.Team
	if s.deps.Queues != nil {
		teams, _ = s.deps.Queues.Teams(c.UserContext(), a)
	}
	return people, teams
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
