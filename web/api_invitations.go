package web

import (
	"context"
	"errors"
	"html/template"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// GuestIDPrefix starts the id of every guest, so a browser session of a
// guest is told from a user's without a lookup.
const GuestIDPrefix = "guest-"

// Invites is the invitation service: links that let guests into a call
// (conference invitations) or that create a call ringing an expert
// (service requests), their delivery, and the guests they admit.
type Invites interface {
	InviteToCall(ctx context.Context, a Actor, callID string, in InviteInput) (InvitationOut, error)
	CreateServiceRequest(ctx context.Context, a Actor, in ServiceRequestInput) (InvitationOut, error)
	// Invitations lists the actor's invitations with their deliveries.
	Invitations(ctx context.Context, a Actor) ([]InvitationOut, error)
	Revoke(ctx context.Context, a Actor, id string) error
	// ServiceRequests lists the open calls created by the actor's service
	// requests (the expert's dashboard: they can be joined until they end).
	ServiceRequests(ctx context.Context, a Actor) ([]storage.Session, error)

	// Inspect tells whether a link can be redeemed; a *DeadLinkError says
	// why not.
	Inspect(ctx context.Context, token string) (JoinInfo, error)
	// Redeem records the acceptance of the terms and admits a guest.
	Redeem(ctx context.Context, token string, in RedeemInput) (storage.Guest, error)
	// GuestActor resolves a guest's session; storage.ErrUnauthenticated
	// when the guest's call is over.
	GuestActor(ctx context.Context, guestID string) (Actor, error)
}

// InviteInput sends a link by e-mail, by SMS, or not at all (link: the
// inviter copies it).
type InviteInput struct {
	Channel string `json:"channel"` // email | sms | link
	To      string `json:"to"`
	Name    string `json:"name"`
}

// ServiceRequestInput creates a service request for a customer or
// technician.
type ServiceRequestInput struct {
	InviteInput
	Subject string `json:"subject"`
	Goal    string `json:"goal"`
	// TeamID queues the request for a team instead of ringing its
	// creator.
	TeamID string `json:"team_id,omitempty"`
}

// InvitationOut is an invitation as its creator sees it. Link, DeepLink and
// QRCode are only known when it is created: the token is not kept.
type InvitationOut struct {
	storage.Invitation
	State      string             `json:"state"` // open | used | revoked | expired | call_ended | everyone_left
	Link       string             `json:"link,omitempty"`
	DeepLink   string             `json:"deep_link,omitempty"`
	QRCode     string             `json:"qr_code,omitempty"` // data:image/png;base64,... of Link
	Deliveries []storage.Delivery `json:"deliveries"`
}

// JoinInfo is what the join page shows before the guest accepts: who
// invites them, from which organisation, to what and why.
type JoinInfo struct {
	Kind         string `json:"kind"`
	OrgName      string `json:"org_name"`
	CallName     string `json:"call_name"`
	Goal         string `json:"goal,omitempty"`
	InviterName  string `json:"inviter_name"`
	InviteeName  string `json:"invitee_name,omitempty"` // the name the inviter typed, to fill in
	TermsVersion string `json:"terms_version"`
	Terms        string `json:"terms"`
}

// RedeemInput is the guest's answer on the join page.
type RedeemInput struct {
	AcceptTerms bool             `json:"accept_terms"`
	Name        string           `json:"name"`
	Kind        storage.UserKind `json:"kind"` // guest_app | guest_mobile | guest_desktop; detected when empty
	Address     string           `json:"-"`
	UserAgent   string           `json:"-"`
}

// DeadLinkError says why a link cannot be used, in plain words.
type DeadLinkError struct {
	Reason  string // malformed | unknown | expired | call_ended | everyone_left | revoked | used
	Message string
}

func (e *DeadLinkError) Error() string { return e.Message }

// Status is 404 for a link that never existed, 410 for one that is gone.
func (e *DeadLinkError) Status() int {
	if e.Reason == "malformed" || e.Reason == "unknown" {
		return fiber.StatusNotFound
	}
	return fiber.StatusGone
}

type redeemOut struct {
	Guest     storage.Guest `json:"guest"`
	CallID    string        `json:"call_id"`
	CSRFToken string        `json:"csrf_token"`
}

func (s *Server) inviteRoutes() []route {
	p := APIPrefix
	return []route{
		{method: "POST", path: p + "/calls/:id/invitations", perm: policy.InviteGuestUsers, summary: "Invite a guest to a call by e-mail, SMS or a link to copy", in: InviteInput{}, out: InvitationOut{}, handler: s.apiInviteToCall},
		{method: "POST", path: p + "/service-requests", perm: policy.InviteGuestUsers, summary: "Create a service request: a 24-hour link that starts a call ringing its creator", in: ServiceRequestInput{}, out: InvitationOut{}, handler: s.apiCreateServiceRequest},
		{method: "GET", path: p + "/service-requests/calls", perm: policy.InviteGuestUsers, summary: "Open calls started by the caller's service requests", out: []storage.Session{}, handler: s.apiServiceRequestCalls},
		{method: "GET", path: p + "/invitations", perm: policy.InviteGuestUsers, summary: "The caller's invitations with their delivery status", out: []InvitationOut{}, handler: s.apiInvitations},
		{method: "DELETE", path: p + "/invitations/:id", perm: policy.InviteGuestUsers, summary: "Revoke an invitation", handler: s.apiRevokeInvitation},
		{method: "GET", path: p + "/join/:token", public: true, summary: "What an invitation link leads to (410/404 with the reason when dead)", out: JoinInfo{}, handler: s.apiInspectLink},
		{method: "POST", path: p + "/join/:token", public: true, summary: "Accept the terms and join as a guest: sets a session cookie bound to the call", in: RedeemInput{}, out: redeemOut{}, handler: s.apiRedeemLink},
		{method: "GET", path: "/join/:token", public: true, page: true, summary: "Invitation page: terms of use, device kind, deep link", handler: s.uiJoin},
		{method: "POST", path: "/join/:token", public: true, page: true, summary: "Accept the terms and join as a guest", handler: s.uiJoinPost},
		{method: "GET", path: "/join/:token/terms", public: true, page: true, summary: "The terms of use a guest accepts on the invitation page", handler: s.uiJoinTerms},
	}
}

// isGuest tells a guest's actor from a user's.
func (a Actor) isGuest() bool { return strings.HasPrefix(a.UserID, GuestIDPrefix) }

// guestAllowed decides a guest's request: only the in-call permissions of
// the guest's role, only on routes of the guest's own call. Routes that
// need no permission ("any logged-in user") are outside the call.
func guestAllowed(c *fiber.Ctx, a Actor, perm string) error {
	if perm == "" {
		perm = policy.OutsideTheCall
	}
	route := c.Route().Path
	inCall := strings.HasPrefix(route, APIPrefix+"/calls/:id") || strings.HasPrefix(route, "/calls/:id")
	if !slices.Contains(a.Grants, perm) || !inCall || c.Params("id") != a.CallID {
		return &storage.ForbiddenError{Permission: perm}
	}
	return nil
}

func (s *Server) apiInviteToCall(c *fiber.Ctx) error {
	var in InviteInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	out, err := s.deps.Invites.InviteToCall(c.UserContext(), a, param(c, "id"), in)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) apiCreateServiceRequest(c *fiber.Ctx) error {
	var in ServiceRequestInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	out, err := s.deps.Invites.CreateServiceRequest(c.UserContext(), a, in)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) apiServiceRequestCalls(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Invites.ServiceRequests(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiInvitations(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Invites.Invitations(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiRevokeInvitation(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Invites.Revoke(c.UserContext(), a, param(c, "id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// linkHeaders keep the token out of Referer headers and caches.
func linkHeaders(c *fiber.Ctx) {
	c.Set("Referrer-Policy", "no-referrer")
	c.Set(fiber.HeaderCacheControl, "no-store")
}

func (s *Server) apiInspectLink(c *fiber.Ctx) error {
	linkHeaders(c)
	info, err := s.deps.Invites.Inspect(c.UserContext(), param(c, "token"))
	if err != nil {
		return err // a *DeadLinkError answers 404 or 410 (errors.go)
	}
	return c.JSON(info)
}

func (s *Server) apiRedeemLink(c *fiber.Ctx) error {
	linkHeaders(c)
	if err := s.sameOrigin(c); err != nil {
		return err
	}
	var in RedeemInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	in.Address, in.UserAgent = s.clientIP(c), truncate(c.Get(fiber.HeaderUserAgent), 256)
	if in.Kind == "" {
		in.Kind = DeviceKind(in.UserAgent)
	}
	g, err := s.deps.Invites.Redeem(c.UserContext(), param(c, "token"), in)
	if err != nil {
		return err // a *DeadLinkError answers 404 or 410 (errors.go)
	}
	sess, err := s.startSession(c, storage.User{ID: g.ID, OrgID: g.OrgID})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(redeemOut{Guest: g, CallID: g.SessionID, CSRFToken: sess.CSRFToken})
}

// DeviceKind tells the three kinds of guests apart by the User-Agent: the
// Siteline app says so, mobile browsers say Mobi/Android/iPhone/iPad.
func DeviceKind(userAgent string) storage.UserKind {
	ua := strings.ToLower(userAgent)
	switch {
	case strings.Contains(ua, "sitelineapp"):
		return storage.UserGuestApp
	case strings.Contains(ua, "mobi"), strings.Contains(ua, "android"), strings.Contains(ua, "iphone"), strings.Contains(ua, "ipad"):
		return storage.UserGuestMobile
	}
	return storage.UserGuestDesktop
}

// The kinds of device a participant joins from, as the history shows them.
const (
	DevicePhone   = "phone"
	DeviceTablet  = "tablet"
	DeviceDesktop = "desktop"
	DeviceApp     = "app"
)

// Device tells from a User-Agent the kind of device a participant joins
// from: the Siteline app, a tablet (an iPad, or Android without "Mobile"),
// a phone, or else a desktop browser.
func Device(userAgent string) string {
	ua := strings.ToLower(userAgent)
	switch {
	case strings.Contains(ua, "sitelineapp"):
		return DeviceApp
	case strings.Contains(ua, "ipad"), strings.Contains(ua, "tablet"),
		strings.Contains(ua, "android") && !strings.Contains(ua, "mobile"):
		return DeviceTablet
	case strings.Contains(ua, "mobi"), strings.Contains(ua, "iphone"), strings.Contains(ua, "android"):
		return DevicePhone
	}
	return DeviceDesktop
}

// ---- pages ---------------------------------------------------------------

type joinData struct {
	Token    string
	Info     JoinInfo
	Kind     storage.UserKind
	DeepLink template.URL // siteline://join/<token>; the token was just found valid
	Dead     *DeadLinkError
	Title    string
}

func (s *Server) uiJoin(c *fiber.Ctx) error {
	linkHeaders(c)
	token := param(c, "token")
	info, err := s.deps.Invites.Inspect(c.UserContext(), token)
	if err != nil {
		return s.deadLinkPage(c, err)
	}
	return s.joinPage(c, fiber.StatusOK, token, info, nil)
}

func (s *Server) joinPage(c *fiber.Ctx, status int, token string, info JoinInfo, f *formState) error {
	v := s.view(c, "Join a call", "")
	v.LoggedIn = false // the public shell: a guest has no backoffice
	if f != nil {
		v.Form = f
	}
	kind := DeviceKind(c.Get(fiber.HeaderUserAgent))
	d := joinData{Token: token, Info: info, Kind: kind}
	if kind != storage.UserGuestDesktop {
		d.DeepLink = template.URL("siteline://join/" + token)
	}
	v.Data = d
	return s.ui.render(c, status, "join", v)
}

// deadLinkPage says in plain words why a link cannot be used.
func (s *Server) deadLinkPage(c *fiber.Ctx, err error) error {
	var dl *DeadLinkError
	if !errors.As(err, &dl) {
		return err
	}
	v := s.view(c, "This link cannot be used", "")
	v.LoggedIn = false
	v.Data = joinData{Dead: dl}
	return s.ui.render(c, dl.Status(), "join", v)
}

func (s *Server) uiJoinPost(c *fiber.Ctx) error {
	linkHeaders(c)
	if err := s.sameOrigin(c); err != nil {
		return err
	}
	token := param(c, "token")
	f := readForm(c, "join", "name", "accept", "kind")
	if f.V("accept") != "yes" {
		// Said here in the page's words rather than the API's.
		info, err := s.deps.Invites.Inspect(c.UserContext(), token)
		if err != nil {
			return s.deadLinkPage(c, err)
		}
		f.Field, f.Err = "accept", termsNotAccepted
		return s.joinPage(c, fiber.StatusBadRequest, token, info, f)
	}
	in := RedeemInput{AcceptTerms: f.V("accept") == "yes", Name: f.V("name"), Kind: storage.UserKind(f.V("kind")),
		Address: s.clientIP(c), UserAgent: truncate(c.Get(fiber.HeaderUserAgent), 256)}
	if in.Kind == "" {
		in.Kind = DeviceKind(in.UserAgent)
	}
	g, err := s.deps.Invites.Redeem(c.UserContext(), token, in)
	if err != nil {
		var dl *DeadLinkError
		if errors.As(err, &dl) {
			return s.deadLinkPage(c, err)
		}
		info, ierr := s.deps.Invites.Inspect(c.UserContext(), token)
		if ierr != nil {
			return s.deadLinkPage(c, ierr)
		}
		return failed(c, f, err, func(c *fiber.Ctx, status int, f *formState) error {
			return s.joinPage(c, status, token, info, f)
		})
	}
	if _, err := s.startSession(c, storage.User{ID: g.ID, OrgID: g.OrgID}); err != nil {
		return err
	}
	return c.Redirect("/calls/"+g.SessionID, fiber.StatusSeeOther)
}
