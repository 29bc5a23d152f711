package sso

import (
	"context"
	"crypto"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"siteline/storage"
)

// httpClient calls providers (discovery, token and userinfo endpoints).
var httpClient = &http.Client{Timeout: 15 * time.Second}

func (s *Service) oauth(st storage.SSOSettings) *oauth2.Config {
	o := st.OIDC
	return &oauth2.Config{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: o.AuthURL, TokenURL: o.TokenURL},
		RedirectURL:  s.baseURL() + CallbackPath(st.OrgID),
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
	}
}

// beginOIDC makes the authorization request: code flow, PKCE (S256), state
// and nonce.
func (s *Service) beginOIDC(st storage.SSOSettings, f *flow) (string, error) {
	f.verifier = oauth2.GenerateVerifier()
	return s.oauth(st).AuthCodeURL(f.state, oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce)), nil
}

// Callback is what the provider sends back to the redirect URL.
type Callback struct {
	State, Code             string
	Error, ErrorDescription string
}

// FinishOIDC checks the callback against the flow the browser brought
// (state), redeems the code with the PKCE verifier, verifies the ID token
// (signature by the stored keys, issuer, audience, expiry) and its nonce,
// and provisions the user. It returns the user and the page to land on.
func (s *Service) FinishOIDC(ctx context.Context, orgID, flowID string, cb Callback) (Login, error) {
	f, err := s.take(flowID, orgID)
	if err != nil {
		return Login{}, err
	}
	if subtle.ConstantTimeCompare([]byte(cb.State), []byte(f.state)) != 1 {
		return Login{}, refused("the state returned by the identity provider does not match the login started in this browser")
	}
	if cb.Error != "" {
		return Login{}, refused("the identity provider refused the login: %s %s", cb.Error, cb.ErrorDescription)
	}
	st, err := s.settings(ctx, orgID)
	if err != nil {
		return Login{}, err
	}
	if st.OIDC == nil {
		return Login{}, refused("organisation %s has no OpenID Connect provider", orgID)
	}
	id, raw, err := s.redeem(ctx, st, f, cb.Code)
	if err != nil {
		return Login{}, err
	}
	u, err := s.provision(ctx, st, id)
	return Login{User: u, Next: f.next, Link: storage.SSOLink{OrgID: orgID, Protocol: "oidc", IDToken: raw}}, err
}

// redeem returns the identity and the raw ID token.
func (s *Service) redeem(ctx context.Context, st storage.SSOSettings, f flow, code string) (id Identity, raw string, err error) {
	id, err = s.verifyCode(ctx, st, f, code, &raw)
	return id, raw, err
}

// verifyCode redeems the code and checks the ID token, leaving it in
// *rawOut.
func (s *Service) verifyCode(ctx context.Context, st storage.SSOSettings, f flow, code string, rawOut *string) (Identity, error) {
	ctx = oidc.ClientContext(ctx, httpClient)
	tok, err := s.oauth(st).Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return Identity{}, refused("the identity provider did not redeem the code: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	*rawOut = raw
	if raw == "" {
		return Identity{}, refused("the identity provider sent no ID token")
	}
	keys, err := keySet(st.OIDC.JWKS)
	if err != nil {
		return Identity{}, err
	}
	verifier := oidc.NewVerifier(st.OIDC.Issuer, keys, &oidc.Config{ClientID: st.OIDC.ClientID, Now: s.now})
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, refused("ID token refused: %v", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		return Identity{}, refused("ID token refused: its nonce does not match the login started in this browser")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, refused("ID token claims: %v", err)
	}
	if st.OIDC.UserInfoURL != "" {
		if err := s.userInfo(ctx, st, tok, idt.Subject, claims); err != nil {
			return Identity{}, err
		}
	}
	groupsClaim := st.OIDC.GroupsClaim
	if groupsClaim == "" {
		groupsClaim = "groups"
	}
	if verified, ok := claims["email_verified"].(bool); ok && !verified {
		return Identity{}, refused("the identity provider has not verified the e-mail address of %q", idt.Subject)
	}
	id := Identity{Issuer: idt.Issuer, Subject: idt.Subject, Groups: stringList(claims[groupsClaim])}
	id.Email, _ = claims["email"].(string)
	id.Name, _ = claims["name"].(string)
	return id, nil
}

// userInfo adds the claims of the userinfo endpoint to claims (the ID
// token's win), after checking they are of the same subject.
func (s *Service) userInfo(ctx context.Context, st storage.SSOSettings, tok *oauth2.Token, subject string, claims map[string]any) error {
	o := st.OIDC
	p := (&oidc.ProviderConfig{IssuerURL: o.Issuer, AuthURL: o.AuthURL, TokenURL: o.TokenURL, UserInfoURL: o.UserInfoURL}).NewProvider(ctx)
	info, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return refused("userinfo: %v", err)
	}
	if info.Subject != subject {
		return refused("userinfo is of subject %q, the ID token of %q", info.Subject, subject)
	}
	more := map[string]any{}
	if err := info.Claims(&more); err != nil {
		return refused("userinfo claims: %v", err)
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

func stringList(v any) []string {
	switch v := v.(type) {
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return strings.Fields(v)
	}
	return nil
}

// keySet reads the stored JWKS.
func keySet(jwks string) (*oidc.StaticKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(jwks), &set); err != nil {
		return nil, fmt.Errorf("stored OIDC keys: %w", err)
	}
	var keys []crypto.PublicKey
	for _, k := range set.Keys {
		if k.Use == "enc" {
			continue
		}
		keys = append(keys, k.Key)
	}
	if len(keys) == 0 {
		return nil, refused("the stored key set of the identity provider has no signing key: fetch its discovery again")
	}
	return &oidc.StaticKeySet{PublicKeys: keys}, nil
}

// DiscoverOIDC reads an issuer's discovery document and keys, to store
// with the settings.
func DiscoverOIDC(ctx context.Context, issuer, clientID, clientSecret string) (storage.OIDCConfig, error) {
	ctx = oidc.ClientContext(ctx, httpClient)
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return storage.OIDCConfig{}, &storage.ValidationError{Field: "oidc.issuer", Problem: fmt.Sprintf("discovery failed: %v", err)}
	}
	var doc struct {
		JWKSURI    string `json:"jwks_uri"`
		UserInfo   string `json:"userinfo_endpoint"`
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&doc); err != nil || doc.JWKSURI == "" {
		return storage.OIDCConfig{}, &storage.ValidationError{Field: "oidc.issuer", Problem: "discovery names no jwks_uri"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, doc.JWKSURI, nil)
	if err != nil {
		return storage.OIDCConfig{}, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return storage.OIDCConfig{}, &storage.ValidationError{Field: "oidc.issuer", Problem: fmt.Sprintf("reading its keys: %v", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return storage.OIDCConfig{}, &storage.ValidationError{Field: "oidc.issuer", Problem: fmt.Sprintf("reading its keys: status %d", resp.StatusCode)}
	}
	if _, err := keySet(string(body)); err != nil {
		return storage.OIDCConfig{}, &storage.ValidationError{Field: "oidc.issuer", Problem: err.Error()}
	}
	ep := p.Endpoint()
	return storage.OIDCConfig{Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret,
		AuthURL: ep.AuthURL, TokenURL: ep.TokenURL, UserInfoURL: doc.UserInfo, EndSessionURL: doc.EndSession, JWKS: string(body)}, nil
}
