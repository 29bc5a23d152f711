package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"siteline/policy"
	"siteline/storage"
)

// Single sign-on: the login page's "Sign in with <company>", the
// redirects to and from the identity provider (node/sso checks what comes
// back), and the organisation's settings. A login that succeeds starts the
// same session, with the same cookie, as a password login.

// ErrSSORequired refuses a password login in an organisation that logs
// in with single sign-on only.
var ErrSSORequired = &Error{Status: fiber.StatusForbidden, Code: "sso_required",
	Message: "this organisation logs in with single sign-on only: use the \"Sign in with\" button"}

// SSO runs single sign-on logins.
type SSO interface {
	// Buttons are the organisations that offer single sign-on.
	Buttons(ctx context.Context) ([]SSOButton, error)
	// BeginSSO returns the identity provider's URL and the id of the
	// login in progress, which the browser keeps in a cookie.
	BeginSSO(ctx context.Context, orgID, next string) (redirect, flow string, err error)
	// FinishOIDC and FinishSAML check what the provider sent back and
	// return the login: the user (created or updated), the page to land
	// on and what logging out at the provider needs.
	FinishOIDC(ctx context.Context, orgID, flow string, q OIDCCallback) (SSOLogin, error)
	FinishSAML(ctx context.Context, orgID, flow, response, relayState string) (SSOLogin, error)
	SAMLMetadata(ctx context.Context, orgID string) ([]byte, error)
	// Remember keeps a login's link with the session it started.
	Remember(ctx context.Context, webSessionID string, l storage.SSOLink) error
	// LogoutURL is where a session's logout continues at the provider;
	// "" for a password login or a provider without logout.
	LogoutURL(ctx context.Context, webSessionID string) (string, error)
	// SLO answers the SAML single logout endpoint and says where the
	// browser goes next ("" for the login page).
	SLO(ctx context.Context, orgID string, r *http.Request) (string, error)
}

// SSOLogin is a login through single sign-on that succeeded.
type SSOLogin struct {
	User storage.User
	Next string
	Link storage.SSOLink
}

// SSOButton is one "Sign in with <Company>" of the login page.
type SSOButton struct {
	OrgID   string
	Company string
}

// OIDCCallback is the query of the provider's redirect back.
type OIDCCallback struct {
	State, Code, Error, ErrorDescription string
}

// ssoFlowCookie keeps the id of the login in progress. SameSite=None: the
// SAML response comes back in a cross-site POST.
const ssoFlowCookie = "__Host-siteline-sso"

func (s *Server) ssoRoutes() []route {
	return []route{
		{method: "GET", path: "/sso/:org/login", public: true, page: true, summary: "Start a single sign-on login at the organisation's identity provider", handler: s.uiSSOBegin},
		{method: "GET", path: "/sso/:org/oidc/callback", public: true, page: true, summary: "OpenID Connect redirect back from the identity provider", handler: s.uiOIDCCallback},
		{method: "POST", path: "/sso/:org/saml/acs", public: true, page: true, summary: "SAML assertion consumer service (HTTP-POST)", handler: s.uiSAMLACS},
		{method: "GET", path: "/sso/:org/saml/metadata", public: true, summary: "The organisation's SAML service provider metadata", handler: s.ssoMetadata},
		{method: "GET", path: "/sso/:org/saml/slo", public: true, page: true, summary: "SAML single logout (HTTP-Redirect)", handler: s.uiSAMLSLO},
		{method: "POST", path: "/sso/:org/saml/slo", public: true, page: true, summary: "SAML single logout (HTTP-POST)", handler: s.uiSAMLSLO},
	}
}

func (s *Server) uiSSOBegin(c *fiber.Ctx) error {
	redirect, flow, err := s.deps.SSO.BeginSSO(c.UserContext(), param(c, "org"), strings.Clone(c.Query("next")))
	if err != nil {
		return s.ssoFailed(c, err)
	}
	c.Cookie(&fiber.Cookie{Name: ssoFlowCookie, Value: flow, Path: "/", Expires: s.now().Add(10 * time.Minute),
		Secure: true, HTTPOnly: true, SameSite: fiber.CookieSameSiteNoneMode})
	return c.Redirect(redirect, fiber.StatusSeeOther)
}

func (s *Server) uiOIDCCallback(c *fiber.Ctx) error {
	q := OIDCCallback{State: strings.Clone(c.Query("state")), Code: strings.Clone(c.Query("code")),
		Error: strings.Clone(c.Query("error")), ErrorDescription: strings.Clone(c.Query("error_description"))}
	l, err := s.deps.SSO.FinishOIDC(c.UserContext(), param(c, "org"), s.takeFlow(c), q)
	return s.ssoDone(c, l, err)
}

func (s *Server) uiSAMLACS(c *fiber.Ctx) error {
	l, err := s.deps.SSO.FinishSAML(c.UserContext(), param(c, "org"), s.takeFlow(c),
		strings.Clone(c.FormValue("SAMLResponse")), strings.Clone(c.FormValue("RelayState")))
	return s.ssoDone(c, l, err)
}

// takeFlow reads the flow cookie and clears it: a flow is used once.
func (s *Server) takeFlow(c *fiber.Ctx) string {
	flow := strings.Clone(c.Cookies(ssoFlowCookie))
	c.Cookie(&fiber.Cookie{Name: ssoFlowCookie, Value: "", Path: "/", Expires: time.Unix(1, 0),
		Secure: true, HTTPOnly: true, SameSite: fiber.CookieSameSiteNoneMode})
	return flow
}

func (s *Server) ssoDone(c *fiber.Ctx, l SSOLogin, err error) error {
	if err != nil {
		return s.ssoFailed(c, err)
	}
	u := l.User
	sess, err := s.startSession(c, u)
	if err != nil {
		return err
	}
	if err := s.deps.SSO.Remember(c.UserContext(), sess.ID, l.Link); err != nil {
		s.log.Warn("single sign-on link not kept: logging out will not reach the provider", "user", u.ID, "err", err)
	}
	s.log.Info("single sign-on login", "user", u.ID, "org", u.OrgID)
	return c.Redirect(s.afterLogin(Actor{UserID: u.ID, OrgID: u.OrgID}, l.Next), fiber.StatusSeeOther)
}

// ssoLogoutURL is where a logout continues at the provider; "" when it
// does not.
func (s *Server) ssoLogoutURL(c *fiber.Ctx) string {
	sess, ok := sessionOf(c)
	if s.deps.SSO == nil || !ok {
		return ""
	}
	to, err := s.deps.SSO.LogoutURL(c.UserContext(), sess.ID)
	if err != nil {
		s.log.Warn("single logout at the provider", "user", sess.UserID, "err", err)
		return ""
	}
	return to
}

func (s *Server) uiSAMLSLO(c *fiber.Ctx) error {
	var r http.Request
	if err := fasthttpadaptor.ConvertRequest(c.Context(), &r, true); err != nil {
		return err
	}
	to, err := s.deps.SSO.SLO(c.UserContext(), param(c, "org"), &r)
	if err != nil {
		return s.ssoFailed(c, err)
	}
	if to != "" {
		return c.Redirect(to, fiber.StatusSeeOther)
	}
	return done(c, "/login", "You are logged out.")
}

// ssoFailed shows the login page with why the login was refused; local
// accounts keep working.
func (s *Server) ssoFailed(c *fiber.Ctx, err error) error {
	s.log.Info("single sign-on refused", "address", s.clientIP(c), "err", err)
	var status int
	var he *Error
	switch {
	case errors.As(err, &he):
		status = he.Status
	case errors.Is(err, storage.ErrUnauthenticated):
		status = fiber.StatusUnauthorized
	case errors.Is(err, storage.ErrInvalid):
		status = fiber.StatusBadRequest
	default: // the provider unreachable, or answering nonsense
		status = fiber.StatusBadGateway
	}
	f := &formState{Name: "login", Values: map[string][]string{}}
	f.Err = "Single sign-on failed: " + sentence(err.Error())
	return s.showLogin(c, status, f)
}

func (s *Server) ssoMetadata(c *fiber.Ctx) error {
	doc, err := s.deps.SSO.SAMLMetadata(c.UserContext(), param(c, "org"))
	if err != nil {
		return &Error{Status: fiber.StatusNotFound, Code: "not_found", Message: err.Error()}
	}
	c.Set(fiber.HeaderContentType, "application/samlmetadata+xml")
	return c.Send(doc)
}

// ssoButtons are the login page's buttons; none when single sign-on is
// off or its settings cannot be read.
func (s *Server) ssoButtons(c *fiber.Ctx) []SSOButton {
	if s.deps.SSO == nil {
		return nil
	}
	b, err := s.deps.SSO.Buttons(c.UserContext())
	if err != nil {
		s.log.Warn("single sign-on buttons", "err", err)
	}
	return b
}

// ---- settings ----------------------------------------------------------

// SSOAdmin reads and saves the organisation's single sign-on settings.
type SSOAdmin interface {
	SSOSettings(ctx context.Context, a Actor) (storage.SSOSettings, error)
	// SaveSSOSettings reads the OIDC provider's discovery and keys when
	// an issuer is given, makes the SAML key pair when SAML is first set
	// up, and replaces the settings.
	SaveSSOSettings(ctx context.Context, a Actor, in SSOInput) (storage.SSOSettings, error)
}

// SSOInput is what an administrator sets.
type SSOInput struct {
	Company          string `json:"company"`
	OIDCIssuer       string `json:"oidc_issuer"`
	OIDCClientID     string `json:"oidc_client_id"`
	OIDCClientSecret string `json:"oidc_client_secret"`
	SAMLMetadata     string `json:"saml_metadata"`
	// SAMLMetadataURL, when set, is read instead of SAMLMetadata.
	SAMLMetadataURL   string               `json:"saml_metadata_url"`
	AllowIdPInitiated bool                 `json:"allow_idp_initiated"`
	Mapping           []storage.SSOMapping `json:"mapping"`
	DefaultRoles      []string             `json:"default_roles"`
	RequireSSO        bool                 `json:"require_sso"`
	BreakGlassUserID  string               `json:"break_glass_user_id"`
}

// ssoSettingsOut leaves secrets out.
type ssoSettingsOut struct {
	Company           string               `json:"company"`
	OIDCIssuer        string               `json:"oidc_issuer,omitempty"`
	OIDCClientID      string               `json:"oidc_client_id,omitempty"`
	OIDCRedirectURL   string               `json:"oidc_redirect_url"`
	SAML              bool                 `json:"saml"`
	SAMLEntityID      string               `json:"saml_entity_id"`
	SAMLACSURL        string               `json:"saml_acs_url"`
	AllowIdPInitiated bool                 `json:"allow_idp_initiated"`
	Mapping           []storage.SSOMapping `json:"mapping"`
	DefaultRoles      []string             `json:"default_roles"`
	RequireSSO        bool                 `json:"require_sso"`
	BreakGlassUserID  string               `json:"break_glass_user_id,omitempty"`
}

const ssoSettingsPath = APIPrefix + "/organisation/sso"

func (s *Server) ssoSettingsRoutes() []route {
	return []route{
		{method: "GET", path: ssoSettingsPath, perm: policy.AdminSSO, summary: "The organisation's single sign-on settings (secrets left out) and the URLs to give the identity provider",
			out: ssoSettingsOut{}, handler: s.apiSSOSettings},
		{method: "PUT", path: ssoSettingsPath, perm: policy.AdminSSO, summary: "Replace the organisation's single sign-on settings: OIDC issuer (read by discovery), SAML IdP metadata, mapping of groups to roles, teams and labels, require SSO",
			in: SSOInput{}, out: ssoSettingsOut{}, handler: s.apiPutSSOSettings},
	}
}

func (s *Server) scimTokenRoutes() []route {
	return []route{
		{method: "POST", path: ssoSettingsPath + "/scim-token", perm: policy.AdminSSO, summary: "Make the organisation's SCIM bearer token, replacing the one before; the token is shown once",
			out: scimTokenOut{}, handler: s.apiNewSCIMToken},
	}
}

// scimTokenOut is a new SCIM token, shown once.
type scimTokenOut struct {
	Token string `json:"token"`
	// URL is SCIM's base URL, to give the identity provider with it.
	URL string `json:"url"`
}

func (s *Server) apiNewSCIMToken(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	secret, err := s.deps.SCIM.NewSCIMToken(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(scimTokenOut{Token: secret, URL: s.baseURL(c) + "/scim/v2/" + a.OrgID})
}

func (s *Server) ssoOut(c *fiber.Ctx, st storage.SSOSettings) ssoSettingsOut {
	base := s.baseURL(c)
	out := ssoSettingsOut{Company: st.Company, Mapping: st.Mapping, DefaultRoles: st.DefaultRoles,
		RequireSSO: st.RequireSSO, BreakGlassUserID: st.BreakGlassUserID, SAML: st.SAML != nil,
		OIDCRedirectURL: base + "/sso/" + st.OrgID + "/oidc/callback",
		SAMLEntityID:    base + "/sso/" + st.OrgID + "/saml/metadata",
		SAMLACSURL:      base + "/sso/" + st.OrgID + "/saml/acs"}
	if st.OIDC != nil {
		out.OIDCIssuer, out.OIDCClientID = st.OIDC.Issuer, st.OIDC.ClientID
	}
	if st.SAML != nil {
		out.AllowIdPInitiated = st.SAML.AllowIdPInitiated
	}
	return out
}

// baseURL is the address users reach this node at.
func (s *Server) baseURL(c *fiber.Ctx) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	return c.Protocol() + "://" + c.Hostname()
}

func (s *Server) apiSSOSettings(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	st, err := s.deps.SSOAdmin.SSOSettings(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.JSON(s.ssoOut(c, st))
}

func (s *Server) apiPutSSOSettings(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	var in SSOInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	st, err := s.deps.SSOAdmin.SaveSSOSettings(c.UserContext(), a, in)
	if err != nil {
		return err
	}
	return c.JSON(s.ssoOut(c, st))
}
