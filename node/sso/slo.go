package sso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/crewjam/saml"

	"siteline/storage"
)

// Single logout. Logging out of a session that single sign-on started
// also logs out at the provider, where it has a logout endpoint: OIDC
// RP-initiated logout (end_session_endpoint with the ID token), SAML
// single logout (a signed LogoutRequest with the NameID and
// SessionIndex). A SAML provider's own LogoutRequest ends this node's
// sessions of that person.

// LogoutURL is where to send the browser to log out at the provider too;
// "" when the provider has no logout endpoint.
func (s *Service) LogoutURL(ctx context.Context, l storage.SSOLink) (string, error) {
	st, err := s.settings(ctx, l.OrgID)
	if err != nil {
		return "", err
	}
	switch {
	case l.Protocol == "oidc" && st.OIDC != nil && st.OIDC.EndSessionURL != "":
		u, err := url.Parse(st.OIDC.EndSessionURL)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Set("id_token_hint", l.IDToken)
		q.Set("client_id", st.OIDC.ClientID)
		u.RawQuery = q.Encode()
		return u.String(), nil
	case l.Protocol == "saml" && st.SAML != nil && l.NameID != "":
		sp, err := s.serviceProvider(ctx, st)
		if err != nil {
			return "", err
		}
		idpURL := sp.GetSLOBindingLocation(saml.HTTPRedirectBinding)
		if idpURL == "" {
			return "", nil
		}
		var opts []saml.LogoutRequestOption
		if l.SessionIndex != "" {
			opts = append(opts, saml.WithSessionIndex(l.SessionIndex))
		}
		req, err := sp.MakeLogoutRequest(idpURL, l.NameID, opts...)
		if err != nil {
			return "", fmt.Errorf("saml logout request: %w", err)
		}
		u, err := sp.RedirectLogoutRequestURL(req, "")
		if err != nil {
			return "", fmt.Errorf("saml logout request: %w", err)
		}
		s.mu.Lock()
		s.logouts[req.ID] = s.now().Add(FlowTTL)
		s.mu.Unlock()
		return u.String(), nil
	}
	return "", nil
}

// SLO answers the organisation's SAML single logout endpoint: the
// provider's answer to a LogoutRequest sent from here (nothing more to
// do), or the provider's own LogoutRequest, whose person's sessions end
// at this node before the answer goes back. It returns where to send the
// browser: "" for the login page.
func (s *Service) SLO(ctx context.Context, orgID string, r *http.Request) (string, error) {
	st, err := s.settings(ctx, orgID)
	if err != nil {
		return "", err
	}
	if st.SAML == nil {
		return "", refused("organisation %s has no SAML provider", orgID)
	}
	sp, err := s.serviceProvider(ctx, st)
	if err != nil {
		return "", err
	}
	if err := r.ParseForm(); err != nil {
		return "", refused("unreadable logout message: %v", err)
	}
	if r.Form.Get("SAMLResponse") != "" {
		s.mu.Lock()
		var sent []string
		for id, until := range s.logouts {
			if s.now().After(until) {
				delete(s.logouts, id)
				continue
			}
			sent = append(sent, id)
		}
		s.mu.Unlock()
		resp, err := sp.ParseLogoutResponse(r, sent)
		if err != nil {
			return "", refused("logout response refused: %s", samlReason(err))
		}
		s.mu.Lock()
		delete(s.logouts, resp.InResponseTo)
		s.mu.Unlock()
		return "", nil
	}
	req, err := sp.ValidateLogoutRequest(r)
	if err != nil {
		return "", refused("logout request refused: %s", samlReason(err))
	}
	if req.NameID == nil || req.NameID.Value == "" {
		return "", refused("logout request names nobody")
	}
	if _, err := s.store.EndSSOSessions(ctx, orgID, req.NameID.Value); err != nil {
		return "", err
	}
	u, err := sp.MakeRedirectLogoutResponse(req.ID, r.Form.Get("RelayState"))
	if err != nil {
		return "", errors.Join(refused("cannot answer the provider's logout"), err)
	}
	return u.String(), nil
}
