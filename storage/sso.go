package storage

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// An organisation's single sign-on settings: the identity providers its
// people log in with (OIDC and SAML 2.0), the mapping from what a provider
// says of a person to Siteline roles, teams and labels, and whether only
// the break-glass administrator may still log in with a password. They are
// organisation data, replicated through the log (OpPutSSOSettings), so
// every site accepts the same logins; the provider's metadata and keys are
// stored with them, so checking a login needs no call out.

// SSOSettings are one organisation's single sign-on settings.
type SSOSettings struct {
	OrgID string `json:"org_id"`
	// Company is shown on the login page: "Sign in with <Company>".
	Company string       `json:"company"`
	OIDC    *OIDCConfig  `json:"oidc,omitempty"`
	SAML    *SAMLConfig  `json:"saml,omitempty"`
	Mapping []SSOMapping `json:"mapping,omitempty"`
	// DefaultRoles are given to every person the providers log in, on top
	// of the mapped ones; empty gives the regular role.
	DefaultRoles []string `json:"default_roles,omitempty"`
	// RequireSSO refuses password logins to everyone but BreakGlassUserID.
	RequireSSO       bool   `json:"require_sso,omitempty"`
	BreakGlassUserID string `json:"break_glass_user_id,omitempty"`
	// SCIMTokenHash is the SHA-256 of the organisation's SCIM bearer
	// token; empty when SCIM is off.
	SCIMTokenHash []byte    `json:"scim_token_hash,omitempty"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// OIDCConfig is an OpenID Connect provider as discovery described it when
// the settings were saved.
type OIDCConfig struct {
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	AuthURL      string `json:"auth_url"`
	TokenURL     string `json:"token_url"`
	UserInfoURL  string `json:"userinfo_url,omitempty"`
	// EndSessionURL is the provider's logout endpoint, when it has one.
	EndSessionURL string `json:"end_session_url,omitempty"`
	// JWKS is the provider's key set (JSON), which ID tokens are checked
	// against.
	JWKS string `json:"jwks"`
	// GroupsClaim names the claim holding the person's groups; "groups"
	// when empty.
	GroupsClaim string `json:"groups_claim,omitempty"`
}

// SAMLConfig is a SAML 2.0 identity provider.
type SAMLConfig struct {
	// IdPMetadata is the provider's metadata (XML) with its signing
	// certificates.
	IdPMetadata string `json:"idp_metadata"`
	// SPKey and SPCert (PEM) are this organisation's service provider key
	// pair, made when SAML is first set up.
	SPKey  string `json:"sp_key"`
	SPCert string `json:"sp_cert"`
	// AllowIdPInitiated accepts logins the provider starts.
	AllowIdPInitiated bool `json:"allow_idp_initiated,omitempty"`
	// GroupsAttribute names the attribute holding the person's groups;
	// "groups" (or the eduPerson/LDAP names) when empty.
	GroupsAttribute string `json:"groups_attribute,omitempty"`
}

// SSOMapping gives the people of one provider group roles, teams and
// labels (by id).
type SSOMapping struct {
	Group  string   `json:"group"`
	Roles  []string `json:"roles,omitempty"`
	Teams  []string `json:"teams,omitempty"`
	Labels []string `json:"labels,omitempty"`
}

// Enabled reports whether any provider is set up.
func (s SSOSettings) Enabled() bool { return s.OIDC != nil || s.SAML != nil }

// Validate checks the settings; every node checks them alike.
func (s SSOSettings) Validate() error {
	bad := func(field, problem string) error { return &ValidationError{Field: field, Problem: problem} }
	if s.OrgID == "" {
		return bad("org_id", "is required")
	}
	if s.Enabled() && strings.TrimSpace(s.Company) == "" {
		return bad("company", "is required: the login page shows \"Sign in with <company>\"")
	}
	if len(s.Company) > 80 || strings.ContainsAny(s.Company, "\r\n") {
		return bad("company", "must be one line of at most 80 characters")
	}
	if o := s.OIDC; o != nil {
		if err := absoluteURL("oidc.issuer", o.Issuer); err != nil {
			return err
		}
		if o.ClientID == "" {
			return bad("oidc.client_id", "is required")
		}
		if err := absoluteURL("oidc.auth_url", o.AuthURL); err != nil {
			return err
		}
		if err := absoluteURL("oidc.token_url", o.TokenURL); err != nil {
			return err
		}
		if o.JWKS == "" {
			return bad("oidc.jwks", "is required: the provider's keys, read by discovery")
		}
	}
	if m := s.SAML; m != nil {
		if !strings.Contains(m.IdPMetadata, "EntityDescriptor") {
			return bad("saml.idp_metadata", "is not SAML metadata (no EntityDescriptor)")
		}
		if m.SPKey == "" || m.SPCert == "" {
			return bad("saml.sp_key", "is required")
		}
	}
	for i, m := range s.Mapping {
		if strings.TrimSpace(m.Group) == "" {
			return bad(fmt.Sprintf("mapping[%d].group", i), "is required")
		}
	}
	if s.RequireSSO {
		if !s.Enabled() {
			return bad("require_sso", "needs a provider set up first")
		}
		if s.BreakGlassUserID == "" {
			return bad("break_glass_user_id", "is required with require_sso: the administrator who may still log in with a password")
		}
	}
	return nil
}

func absoluteURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return &ValidationError{Field: field, Problem: fmt.Sprintf("%q is not an absolute http(s) URL", s)}
	}
	return nil
}

// SSOLink is what a browser session started by single sign-on keeps to
// log out at the provider too: the SAML NameID and SessionIndex, or the
// OIDC ID token. It is site data.
type SSOLink struct {
	OrgID        string
	Protocol     string // "oidc" or "saml"
	NameID       string
	SessionIndex string
	IDToken      string
}
