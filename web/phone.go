package web

import (
	"context"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Phone is the phonebook's live side: who of the organisation is online
// anywhere in the federation, and calling one of them.
type Phone interface {
	// Presence returns the state of every user of the organisation who
	// is not offline: PresenceOnline or PresenceInCall.
	Presence(orgID string) map[string]string
	// CallUser starts a call at this node and rings the user's open pages,
	// here or at whichever node of the federation they are. A user who
	// cannot be rung is DialNotReachable, with the reason, and no call is
	// left open.
	CallUser(ctx context.Context, a Actor, userID string) (DialOut, error)
}

// PresenceFeed pushes the presence of an organisation's users to the
// phonebook's open pages as it changes, as EventPresence on the events
// socket of a page that asks for it (GET /api/v1/events?presence=1): first
// every user not offline (PresenceAll), then the users whose state
// changed. The node implements it.
type PresenceFeed interface {
	// WatchPresence sends the presence of the actor's organisation until
	// cancel is called. send must not block.
	WatchPresence(a Actor, send func(Event) error) (cancel func())
}

// EventPresence carries Event.Presence on the events socket.
const EventPresence = "presence"

// Presence states.
const (
	PresenceOffline = "offline"
	PresenceOnline  = "online"
	PresenceInCall  = "in_call"
)

// Dial outcomes.
const (
	DialRinging      = "ringing"
	DialNotReachable = "not_reachable"
)

// DialOut is what calling a user did.
type DialOut struct {
	Status string `json:"status"`
	// Reason says why a user is not reachable.
	Reason string `json:"reason,omitempty"`
	// CallID and URL are the call's, when it rings.
	CallID string `json:"call_id,omitempty"`
	URL    string `json:"url,omitempty"`
}

// InternalContact is a user of the organisation in the phonebook.
type InternalContact struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Presence string `json:"presence"`
}

// InternalContacts is one page of them.
type InternalContacts struct {
	Contacts []InternalContact `json:"contacts"`
	Total    int               `json:"total"`
	Page     int               `json:"page"`
	Pages    int               `json:"pages"`
}

const phonebookPage = 50

func (s *Server) phoneRoutes() []route {
	if s.deps.Phone == nil {
		return nil
	}
	p := APIPrefix
	return []route{
		{method: "GET", path: p + "/phonebook/users", perm: policy.ContactList, summary: "The organisation's users with their presence (online, in_call, offline); q searches, page pages (50 a page)", out: InternalContacts{}, handler: s.apiInternalContacts},
		{method: "POST", path: p + "/phonebook/users/:id/call", perm: policy.CreateConference, summary: "Call a user: a call starts here and rings their open pages wherever they are, or says they are not reachable", out: DialOut{}, handler: s.apiCallUser},
		{method: "POST", path: "/contacts/users/:id/call", perm: policy.CreateConference, page: true, summary: "Call a user from the phonebook", handler: s.uiCallUser},
	}
}

// internalContacts lists the active regular users of the organisation
// matching q (name or e-mail), with their presence, one page of them.
func (s *Server) internalContacts(ctx context.Context, a Actor, q string, page int) (InternalContacts, error) {
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return InternalContacts{}, err
	}
	states := s.deps.Phone.Presence(a.OrgID)
	q = strings.ToLower(strings.TrimSpace(q))
	var all []InternalContact
	for _, u := range users {
		if !u.Active || u.Kind != storage.UserRegular || u.ID == a.UserID {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(u.Name+" "+u.Email), q) {
			continue
		}
		st := states[u.ID]
		if st == "" {
			st = PresenceOffline
		}
		all = append(all, InternalContact{ID: u.ID, Name: u.Name, Email: u.Email, Presence: st})
	}
	out := InternalContacts{Total: len(all), Pages: (len(all) + phonebookPage - 1) / phonebookPage, Page: page}
	if out.Pages == 0 {
		out.Pages = 1
	}
	if out.Page < 1 {
		out.Page = 1
	}
	if out.Page > out.Pages {
		out.Page = out.Pages
	}
	from := (out.Page - 1) * phonebookPage
	out.Contacts = all[from:min(from+phonebookPage, len(all))]
	if out.Contacts == nil {
		out.Contacts = []InternalContact{}
	}
	return out, nil
}

func pageParam(c *fiber.Ctx, name string) int {
	n, err := strconv.Atoi(c.Query(name))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func (s *Server) apiInternalContacts(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.internalContacts(c.UserContext(), a, c.Query("q"), pageParam(c, "page"))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiCallUser(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Phone.CallUser(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	if out.Status == DialRinging {
		c.Status(fiber.StatusCreated)
	}
	return c.JSON(out)
}

// uiCallUser calls a user and opens the call, or comes back to the
// phonebook saying why the user cannot be reached.
func (s *Server) uiCallUser(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Phone.CallUser(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return failed(c, &formState{Name: "call"}, err, s.showContacts)
	}
	if out.Status != DialRinging {
		return done(c, "/contacts", out.Reason)
	}
	// ?ringing makes the call page listen for what becomes of the ring.
	return c.Redirect("/calls/"+out.CallID+"?ringing", fiber.StatusSeeOther)
}
