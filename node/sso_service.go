package node

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"siteline/node/org"
	"siteline/node/sso"
	"siteline/storage"
	"siteline/web"
)

// startSSO builds single sign-on (node/sso) on the organisation service,
// which provisions the users it logs in.
func (n *Node) startSSO() {
	n.sso = sso.New(n.store, n.admin, func() string { return strings.TrimRight(n.URL(), "/") }, n.now)
}

// scimService is SCIM's side of the organisation service.
type scimService struct{ *org.Service }

func (scimService) Actor(orgID string) web.Actor { return org.SCIMActor(orgID) }

var _ web.SCIM = scimService{}

// ssoWeb is single sign-on as the web layer sees it: the logins
// (web.SSO) and their settings (web.SSOAdmin).
type ssoWeb struct {
	svc   *sso.Service
	admin *org.Service
	store interface {
		AllSSOSettings(ctx context.Context) ([]storage.SSOSettings, error)
		PutSSOLink(ctx context.Context, webSessionID string, l storage.SSOLink) error
		SSOLink(ctx context.Context, webSessionID string) (storage.SSOLink, error)
	}
}

var (
	_ web.SSO      = ssoWeb{}
	_ web.SSOAdmin = ssoWeb{}
)

func (w ssoWeb) Buttons(ctx context.Context) ([]web.SSOButton, error) {
	all, err := w.store.AllSSOSettings(ctx)
	var out []web.SSOButton
	for _, st := range all {
		if st.Enabled() {
			out = append(out, web.SSOButton{OrgID: st.OrgID, Company: st.Company})
		}
	}
	return out, err
}

func (w ssoWeb) BeginSSO(ctx context.Context, orgID, next string) (string, string, error) {
	st, err := w.svc.Begin(ctx, orgID, next)
	return st.Redirect, st.Flow, err
}

func (w ssoWeb) FinishOIDC(ctx context.Context, orgID, flow string, q web.OIDCCallback) (web.SSOLogin, error) {
	l, err := w.svc.FinishOIDC(ctx, orgID, flow, sso.Callback{State: q.State, Code: q.Code, Error: q.Error, ErrorDescription: q.ErrorDescription})
	return web.SSOLogin(l), err
}

func (w ssoWeb) FinishSAML(ctx context.Context, orgID, flow, response, relayState string) (web.SSOLogin, error) {
	l, err := w.svc.FinishSAML(ctx, orgID, flow, response, relayState)
	return web.SSOLogin(l), err
}

func (w ssoWeb) Remember(ctx context.Context, webSessionID string, l storage.SSOLink) error {
	return w.store.PutSSOLink(ctx, webSessionID, l)
}

func (w ssoWeb) LogoutURL(ctx context.Context, webSessionID string) (string, error) {
	l, err := w.store.SSOLink(ctx, webSessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil // a password login
	}
	if err != nil {
		return "", err
	}
	return w.svc.LogoutURL(ctx, l)
}

func (w ssoWeb) SLO(ctx context.Context, orgID string, r *http.Request) (string, error) {
	return w.svc.SLO(ctx, orgID, r)
}

func (w ssoWeb) SAMLMetadata(ctx context.Context, orgID string) ([]byte, error) {
	return w.svc.SAMLMetadata(ctx, orgID)
}

func (w ssoWeb) SSOSettings(ctx context.Context, a web.Actor) (storage.SSOSettings, error) {
	return w.admin.SSOSettings(ctx, a)
}

// SaveSSOSettings reads the OIDC provider's discovery and keys (again
// whenever the settings are saved, so that saving picks up a key
// rotation), keeps the client secret when none is given, and keeps the
// SAML key pair once made.
func (w ssoWeb) SaveSSOSettings(ctx context.Context, a web.Actor, in web.SSOInput) (storage.SSOSettings, error) {
	old, err := w.admin.SSOSettings(ctx, a)
	if err != nil {
		return old, err
	}
	st := storage.SSOSettings{OrgID: a.OrgID, Company: strings.TrimSpace(in.Company), Mapping: in.Mapping,
		DefaultRoles: in.DefaultRoles, RequireSSO: in.RequireSSO, BreakGlassUserID: in.BreakGlassUserID,
		SCIMTokenHash: old.SCIMTokenHash}
	if issuer := strings.TrimSpace(in.OIDCIssuer); issuer != "" {
		secret := in.OIDCClientSecret
		if secret == "" && old.OIDC != nil {
			secret = old.OIDC.ClientSecret
		}
		cfg, err := sso.DiscoverOIDC(ctx, issuer, strings.TrimSpace(in.OIDCClientID), secret)
		if err != nil {
			return st, err
		}
		if old.OIDC != nil {
			cfg.GroupsClaim = old.OIDC.GroupsClaim
		}
		st.OIDC = &cfg
	}
	md := strings.TrimSpace(in.SAMLMetadata)
	if mdURL := strings.TrimSpace(in.SAMLMetadataURL); mdURL != "" {
		if md, err = sso.FetchIdPMetadata(ctx, mdURL); err != nil {
			return st, err
		}
	}
	if md != "" {
		if _, err := sso.ParseIdPMetadata(md); err != nil {
			return st, &storage.ValidationError{Field: "saml_metadata", Problem: err.Error()}
		}
		m := storage.SAMLConfig{IdPMetadata: md, AllowIdPInitiated: in.AllowIdPInitiated}
		if old.SAML != nil {
			m.SPKey, m.SPCert, m.GroupsAttribute = old.SAML.SPKey, old.SAML.SPCert, old.SAML.GroupsAttribute
		} else if m.SPKey, m.SPCert, err = sso.NewSPKeyPair("Siteline " + a.OrgID); err != nil {
			return st, err
		}
		st.SAML = &m
	}
	return w.admin.PutSSOSettings(ctx, a, st)
}
