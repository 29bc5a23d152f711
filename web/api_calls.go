package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Calls is the call service: sessions, their ICE servers, WebSocket
// signaling and WHIP/WHEP. The node implements it over its SFU and TURN
// relay; web only carries bytes.
type Calls interface {
	// CreateCall starts a session at this site.
	CreateCall(ctx context.Context, a Actor, in CallInput) (storage.Session, error)
	// Call returns a session of the actor's organisation, or
	// storage.ErrNotFound: what joining by the call's link needs.
	Call(ctx context.Context, a Actor, id string) (storage.Session, error)
	// ViewCall returns it to those who may read the call's data: its
	// owner and participants, their supervisors and call-log readers.
	ViewCall(ctx context.Context, a Actor, id string) (storage.Session, error)
	// ICEServers mints per-call, per-user TURN credentials and lists the
	// STUN and TURN URLs on host, the name the client reached the node by.
	ICEServers(ctx context.Context, a Actor, callID, host string) (ICEConfig, error)
	// Join opens a signaling connection to a call. send delivers messages
	// to the client in order; it does not block. The first message the
	// client sends must be join.
	Join(ctx context.Context, a Actor, callID string, send func([]byte) error) (CallConn, error)
	// Publish (WHIP) and Play (WHEP) answer an SDP offer without trickle.
	Publish(ctx context.Context, a Actor, callID, offer string) (DirectSession, error)
	Play(ctx context.Context, a Actor, callID, offer string) (DirectSession, error)
	// EndDirect ends a WHIP or WHEP session the actor started.
	EndDirect(ctx context.Context, a Actor, callID, id string) error
	// ChatHistory returns the call's last chat messages, oldest first, for
	// a page that joins late or reloads.
	ChatHistory(ctx context.Context, a Actor, callID string) ([]ChatLine, error)
}

// ChatLine is one chat message of a call, as the call page shows it.
type ChatLine struct {
	Participant string    `json:"participant"`
	Name        string    `json:"name"`
	Text        string    `json:"text"`
	Time        time.Time `json:"time"`
}

// CallConn is one client's signaling connection. Handle is called from one
// goroutine with each message; refused messages are answered with an error
// message and change nothing. Close leaves the call. Ended is closed once
// the call's end has been sent; the socket then closes.
type CallConn interface {
	Handle(data []byte) error
	Ended() <-chan struct{}
	Close()
}

// CallInput creates a call.
type CallInput struct {
	Name string `json:"name"`
	Goal string `json:"goal"`
}

// ICEServer is an RTCIceServer, as browsers take it.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ICEConfig is what a client needs to reach the node's media.
type ICEConfig struct {
	ICEServers []ICEServer `json:"ice_servers"`
	// ExpiresAt is when the TURN credentials stop working; fetch new ones
	// before an ICE restart after it.
	ExpiresAt time.Time `json:"expires_at"`
}

// DirectSession is a WHIP or WHEP session: its id (the last segment of its
// Location) and the SDP answer.
type DirectSession struct {
	ID     string
	Answer string
}

// callRoutes are the call service's: the API and the call pages.
func (s *Server) callRoutes() []route {
	p := APIPrefix
	return append([]route{
		{method: "POST", path: p + "/calls", perm: policy.CreateConference, summary: "Start a call: creates its session at this site", in: CallInput{}, out: storage.Session{}, handler: s.apiCreateCall},
		{method: "GET", path: p + "/calls/:id", perm: policy.CallJoin, summary: "One call's session", out: storage.Session{}, handler: s.apiCall},
		{method: "GET", path: p + "/calls/:id/chat", perm: policy.CallJoin, summary: "The call's chat so far (the last 500 messages, oldest first)", out: []ChatLine{}, handler: s.apiChatHistory},
		{method: "GET", path: p + "/calls/:id/ice-servers", perm: policy.CallJoin, summary: "STUN and TURN servers with credentials minted for this call and caller", out: ICEConfig{}, handler: s.apiICEServers},
		{method: "GET", path: p + "/calls/:id/signal", perm: policy.CallJoin, summary: "Signaling WebSocket (versioned JSON messages; the first must be join)", handler: s.apiSignal},
		{method: "POST", path: p + "/calls/:id/whip", perm: policy.CallJoin, summary: "WHIP: publish with an SDP offer (application/sdp); answers 201 with the SDP answer, Location and the ICE servers as Link headers. Each sent kind needs its permission (publish-camera for video, publish-microphone for audio), whatever the section's port", handler: s.apiWHIP},
		{method: "OPTIONS", path: p + "/calls/:id/whip", perm: policy.CallJoin, summary: "WHIP: the methods and content type the endpoint takes (Allow, Accept-Post)", handler: s.apiDirectOptions},
		{method: "PATCH", path: p + "/calls/:id/whip/:session", perm: policy.CallJoin, summary: "WHIP: trickle ICE and ICE restarts are not supported; answers 405 with Allow (RFC 9725 §4.3)", handler: s.apiDirectPatch},
		{method: "DELETE", path: p + "/calls/:id/whip/:session", perm: policy.CallJoin, summary: "WHIP: end a publication", handler: s.apiEndDirect},
		{method: "POST", path: p + "/calls/:id/whep", perm: policy.CallJoin, summary: "WHEP: play the call's tracks with an SDP offer (application/sdp); answers 201 with the SDP answer, Location and the ICE servers as Link headers", handler: s.apiWHEP},
		{method: "OPTIONS", path: p + "/calls/:id/whep", perm: policy.CallJoin, summary: "WHEP: the methods and content type the endpoint takes (Allow, Accept-Post)", handler: s.apiDirectOptions},
		{method: "PATCH", path: p + "/calls/:id/whep/:session", perm: policy.CallJoin, summary: "WHEP: trickle ICE and ICE restarts are not supported; answers 405 with Allow (RFC 9725 §4.3)", handler: s.apiDirectPatch},
		{method: "DELETE", path: p + "/calls/:id/whep/:session", perm: policy.CallJoin, summary: "WHEP: stop playing", handler: s.apiEndDirect},
	}, append(s.superviseRoutes(), s.callUIRoutes()...)...)
}

func (s *Server) apiCreateCall(c *fiber.Ctx) error {
	var in CallInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	sess, err := s.deps.Calls.CreateCall(c.UserContext(), a, in)
	if err != nil {
		return err
	}
	c.Location(APIPrefix + "/calls/" + sess.ID)
	return c.Status(fiber.StatusCreated).JSON(sess)
}

func (s *Server) apiCall(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	sess, err := s.deps.Calls.ViewCall(c.UserContext(), a, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(sess)
}

func (s *Server) apiChatHistory(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	lines, err := s.deps.Calls.ChatHistory(c.UserContext(), a, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(lines)
}

func (s *Server) apiICEServers(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	cfg, err := s.deps.Calls.ICEServers(c.UserContext(), a, c.Params("id"), c.Hostname())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(cfg)
}

// maxSDP bounds a WHIP or WHEP offer.
const maxSDP = 64 << 10

func (s *Server) apiWHIP(c *fiber.Ctx) error { return s.direct(c, "whip") }
func (s *Server) apiWHEP(c *fiber.Ctx) error { return s.direct(c, "whep") }

// direct answers a WHIP or WHEP offer: application/sdp in, 201 with the
// answer, the session's Location and the ICE servers as Link headers
// (RFC 9725 §4.6) out.
func (s *Server) direct(c *fiber.Ctx, kind string) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	if ct != "application/sdp" {
		c.Set("Accept-Post", "application/sdp")
		return &Error{Status: fiber.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: fmt.Sprintf("Content-Type must be application/sdp, not %q", ct)}
	}
	offer := string(c.Body())
	switch {
	case strings.TrimSpace(offer) == "":
		return &storage.ValidationError{Field: "body", Problem: "is empty: an SDP offer is expected"}
	case len(offer) > maxSDP:
		return &Error{Status: fiber.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("SDP offer of %d bytes is over the limit of %d", len(offer), maxSDP)}
	}
	a, _ := actorOf(c)
	ctx, cancel := context.WithTimeout(c.UserContext(), 20*time.Second)
	defer cancel()
	ice, err := s.deps.Calls.ICEServers(ctx, a, c.Params("id"), c.Hostname())
	if err != nil {
		return err
	}
	var ds DirectSession
	if kind == "whip" {
		ds, err = s.deps.Calls.Publish(ctx, a, c.Params("id"), offer)
	} else {
		ds, err = s.deps.Calls.Play(ctx, a, c.Params("id"), offer)
	}
	if err != nil {
		return err
	}
	for _, l := range iceLinks(ice) {
		c.Response().Header.Add(fiber.HeaderLink, l)
	}
	c.Location(fmt.Sprintf("%s/calls/%s/%s/%s", APIPrefix, c.Params("id"), kind, ds.ID))
	c.Set(fiber.HeaderContentType, "application/sdp")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).SendString(ds.Answer)
}

// iceLinks writes the ICE servers as RFC 9725 §4.6 Link header values,
// one per URL, with the TURN credentials where there are some.
func iceLinks(cfg ICEConfig) []string {
	var out []string
	for _, srv := range cfg.ICEServers {
		for _, u := range srv.URLs {
			l := "<" + u + `>; rel="ice-server"`
			if srv.Username != "" {
				l += fmt.Sprintf(`; username=%s; credential=%s; credential-type="password"`,
					quoteLinkParam(srv.Username), quoteLinkParam(srv.Credential))
			}
			out = append(out, l)
		}
	}
	return out
}

// quoteLinkParam quotes a Link parameter value (RFC 8288 quoted-string).
func quoteLinkParam(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// apiDirectOptions answers OPTIONS on a WHIP or WHEP endpoint with the
// methods it takes and the offer's content type.
func (s *Server) apiDirectOptions(c *fiber.Ctx) error {
	c.Set(fiber.HeaderAllow, "OPTIONS, POST")
	c.Set("Accept-Post", "application/sdp")
	return c.SendStatus(fiber.StatusNoContent)
}

// apiDirectPatch refuses trickle ICE and ICE restarts, as RFC 9725 §4.3.1
// lets an endpoint do: the offer must hold every candidate.
func (s *Server) apiDirectPatch(c *fiber.Ctx) error {
	c.Set(fiber.HeaderAllow, "DELETE")
	return &Error{Status: fiber.StatusMethodNotAllowed, Code: "method_not_allowed",
		Message: "trickle ICE and ICE restarts are not supported here: send an offer with every candidate, and POST a new offer to restart"}
}

func (s *Server) apiEndDirect(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Calls.EndDirect(c.UserContext(), a, c.Params("id"), c.Params("session")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusOK)
}
