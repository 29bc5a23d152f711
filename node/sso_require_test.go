package node

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	opstorage "github.com/zitadel/oidc/v3/example/server/storage"

	"siteline/policy"
	"siteline/web"
)

// TestSSORequired: with single sign-on required, password logins are
// refused to everyone but the break-glass administrator, on the API and
// the login form, and a person of the organisation still logs in through
// the provider.
func TestSSORequired(t *testing.T) {
	tn := startNode(t, Config{})
	// The provider also knows a person with the administrator's e-mail.
	o := startOP(t, tn.url+"/sso/"+tn.n.OrgID()+"/oidc/callback", &opstorage.User{ID: "u2", Username: "root",
		Password: opPassword, FirstName: "Root", LastName: "Impostor", Email: tn.cfg.Organisation.AdminEmail, EmailVerified: true})
	admin := tn.admin()
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: opPassword, Roles: []string{policy.RoleRegular}}, nil); st != 201 {
		t.Fatalf("create user: %d", st)
	}
	adminUser, err := tn.n.store.UserByEmail(context.Background(), tn.n.OrgID(), tn.cfg.Organisation.AdminEmail)
	if err != nil {
		t.Fatal(err)
	}
	in := web.SSOInput{Company: "Acme Plants", OIDCIssuer: o.issuer, OIDCClientID: "siteline", OIDCClientSecret: "client secret", RequireSSO: true}

	// Requiring SSO without a break-glass administrator is refused and
	// changes nothing.
	var e web.ErrorBody
	if st := admin.do("PUT", "/api/v1/organisation/sso", in, &e); st != 400 || !strings.Contains(e.Error, "break_glass_user_id") {
		t.Fatalf("require SSO without break-glass: status %d %q, want 400 naming break_glass_user_id", st, e.Error)
	}
	tn.login("tech@plant.example", opPassword) // still a password login

	in.BreakGlassUserID = adminUser.ID
	if st := admin.do("PUT", "/api/v1/organisation/sso", in, nil); st != 200 {
		t.Fatalf("require SSO: status %d", st)
	}

	b := tn.anon()
	st, body := b.raw("POST", "/api/v1/session", "application/json",
		strings.NewReader(mustJSON(t, map[string]string{"email": "tech@plant.example", "password": opPassword})))
	if st != http.StatusForbidden || apiError(t, body).Code != "sso_required" || b.cookie != "" {
		t.Fatalf("password login of tech: status %d %s, session %v; want 403 sso_required and no session", st, body, b.cookie != "")
	}
	form := url.Values{"email": {"tech@plant.example"}, "password": {opPassword}}
	st, page := b.raw("POST", "/login", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if st != http.StatusForbidden || !strings.Contains(string(page), "single sign-on only") || b.cookie != "" {
		t.Fatalf("login form of tech: status %d, session %v; want 403 naming single sign-on", st, b.cookie != "")
	}
	tn.login(tn.cfg.Organisation.AdminEmail, tn.password) // the break-glass administrator

	a := startSSOLogin(t, tn)
	if st, s, body := a.finish(o.login(t, a.auth.String(), "ada", opPassword)); st != http.StatusSeeOther || s == nil {
		t.Fatalf("SSO login with SSO required: status %d: %s", st, pageError(body))
	}
	// The break-glass administrator is the provider's neither to log in
	// nor to remap.
	a = startSSOLogin(t, tn)
	st, s, msg := a.finish(o.login(t, a.auth.String(), "root", opPassword))
	if st != http.StatusUnauthorized || s != nil || !strings.Contains(msg, "break-glass administrator") {
		t.Fatalf("SSO login as the break-glass administrator: status %d, session %v: %s", st, s != nil, pageError(msg))
	}
}

// TestSSOProviderUnreachable: when the provider cannot be reached, "Sign
// in with" comes back to the login page saying so, and password logins
// keep working.
func TestSSOProviderUnreachable(t *testing.T) {
	tn := startNode(t, Config{})
	o := startOP(t, tn.url+"/sso/"+tn.n.OrgID()+"/oidc/callback")
	admin := tn.admin()
	in := web.SSOInput{Company: "Acme Plants", OIDCIssuer: o.issuer, OIDCClientID: "siteline", OIDCClientSecret: "client secret"}
	if st := admin.do("PUT", "/api/v1/organisation/sso", in, nil); st != 200 {
		t.Fatalf("save SSO settings: status %d", st)
	}
	o.stop()
	st, page := tn.anon().raw("GET", "/sso/"+tn.n.OrgID()+"/login", "", nil)
	if st != http.StatusBadGateway || !strings.Contains(string(page), "cannot be reached from here") {
		t.Fatalf("SSO with the provider down: status %d:\n%s", st, pageError(string(page)))
	}
	tn.login(tn.cfg.Organisation.AdminEmail, tn.password)
}
