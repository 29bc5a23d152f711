package storage

import "testing"

func TestSSOSettingsValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		st    SSOSettings
		field string
	}{
		{"provider without company", SSOSettings{OrgID: "o", SAML: &SAMLConfig{IdPMetadata: "<EntityDescriptor/>", SPKey: "k", SPCert: "c"}}, "company"},
		{"issuer not a URL", SSOSettings{OrgID: "o", Company: "A", OIDC: &OIDCConfig{Issuer: "login", ClientID: "c", AuthURL: "https://a/x", TokenURL: "https://a/t", JWKS: "{}"}}, "oidc.issuer"},
		{"require SSO without provider", SSOSettings{OrgID: "o", RequireSSO: true, BreakGlassUserID: "u"}, "require_sso"},
		{"mapping without group", SSOSettings{OrgID: "o", Mapping: []SSOMapping{{Roles: []string{"r"}}}}, "mapping[0].group"},
	} {
		err := c.st.Validate()
		ve, ok := err.(*ValidationError)
		if !ok || ve.Field != c.field {
			t.Errorf("%s: %v, want a validation error of %s", c.name, err, c.field)
		}
	}
}
