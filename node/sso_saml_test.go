package node

import (
	"bytes"
	"compress/flate"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"

	"siteline/node/sso"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// testIdP is crewjam/saml's samlidp, a real SAML identity provider,
// served on loopback.
type testIdP struct {
	t    *testing.T
	url  string // its entity URL, which its metadata and assertions name
	addr string // where it listens
	srv  *samlidp.Server
}

// startIdP starts an IdP with a key of its own, listening on a port of
// its own, that calls itself entityURL ("" for its own address: a
// different entityURL makes an impostor of another IdP).
func startIdP(t *testing.T, entityURL string) *testIdP {
	t.Helper()
	keyPEM, certPEM, err := sso.NewSPKeyPair("test idp")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(pair.Certificate[0])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idp := &testIdP{t: t, addr: "http://" + ln.Addr().String()}
	idp.url = entityURL
	if idp.url == "" {
		idp.url = idp.addr
	}
	u, _ := url.Parse(idp.url)
	idp.srv, err = samlidp.New(samlidp.Options{URL: *u, Key: pair.PrivateKey.(*rsa.PrivateKey), Certificate: cert, Store: &samlidp.MemoryStore{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: idp.srv, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return idp
}

func (idp *testIdP) put(path string, body []byte) {
	idp.t.Helper()
	req, _ := http.NewRequest("PUT", idp.addr+path, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		idp.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		idp.t.Fatalf("PUT %s at the IdP: status %d", path, resp.StatusCode)
	}
}

func (idp *testIdP) setUser(name string, groups ...string) {
	pw := opPassword
	data, _ := json.Marshal(samlidp.User{Name: name, PlaintextPassword: &pw, Groups: groups,
		Email: name + "@plant.example", CommonName: "Grace Hopper"})
	idp.put("/users/"+name, data)
}

func (idp *testIdP) metadata() string {
	idp.t.Helper()
	resp, err := http.Get(idp.addr + "/metadata")
	if err != nil {
		idp.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

var formValue = regexp.MustCompile(`name="(SAMLRequest|SAMLResponse|RelayState)" value="([^"]*)"`)

// formValues reads the hidden fields of a page's form.
func formValues(page []byte) map[string]string {
	out := map[string]string{}
	for _, m := range formValue.FindAllSubmatch(page, -1) {
		out[string(m[1])] = html.UnescapeString(string(m[2]))
	}
	return out
}

// login signs name in at the IdP for the authentication request at
// authURL (sent to the IdP's address whatever host it names) and returns
// the SAMLResponse and RelayState the IdP's page posts back.
func (idp *testIdP) login(t *testing.T, authURL *url.URL, name string, jar http.CookieJar) (string, string) {
	t.Helper()
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	u, _ := url.Parse(idp.addr)
	at := *authURL
	at.Scheme, at.Host = u.Scheme, u.Host
	resp, err := c.Get(at.String())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f := formValues(page)
	if f["SAMLRequest"] == "" {
		t.Fatalf("the IdP shows no login form (status %d): %s", resp.StatusCode, page)
	}
	resp, err = c.PostForm(idp.addr+"/sso", url.Values{"user": {name}, "password": {opPassword},
		"SAMLRequest": {f["SAMLRequest"]}, "RelayState": {f["RelayState"]}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	f = formValues(page)
	if f["SAMLResponse"] == "" {
		t.Fatalf("the IdP posts no SAMLResponse (status %d): %s", resp.StatusCode, page)
	}
	return f["SAMLResponse"], f["RelayState"]
}

// editResponse decodes a SAMLResponse, lets edit change it and encodes it
// again.
func editResponse(t *testing.T, response string, edit func(doc *etree.Document)) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(response)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

// removeSignatures takes every XML signature out of el.
func removeSignatures(el *etree.Element) {
	for _, sig := range el.FindElements(".//Signature") {
		sig.Parent().RemoveChild(sig)
	}
}

// editRequest rewrites the issuer of the redirect-binding AuthnRequest in
// authURL.
func editRequest(t *testing.T, authURL *url.URL, issuer string) *url.URL {
	t.Helper()
	q := authURL.Query()
	deflated, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	doc.Root().FindElement("./Issuer").SetText(issuer)
	out, _ := doc.WriteToBytes()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write(out)
	w.Close()
	q.Set("SAMLRequest", base64.StdEncoding.EncodeToString(buf.Bytes()))
	edited := *authURL
	edited.RawQuery = q.Encode()
	return &edited
}

func TestSSOSAMLLogin(t *testing.T) {
	var offset atomic.Int64
	cfg := testConfig(t, shortTempDir(t))
	tn := startNodeWith(t, cfg, Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	orgID := tn.n.OrgID()
	idp := startIdP(t, "")
	admin := tn.admin()

	in := web.SSOInput{Company: "Acme SAML", SAMLMetadata: idp.metadata(), AllowIdPInitiated: true,
		Mapping: []storage.SSOMapping{{Group: "plant-admins", Roles: []string{policy.RoleAdministrator}}}}
	var out struct {
		SAMLEntityID string `json:"saml_entity_id"`
		SAMLACSURL   string `json:"saml_acs_url"`
	}
	if st := admin.do("PUT", "/api/v1/organisation/sso", in, &out); st != 200 {
		t.Fatalf("save SSO settings: status %d", st)
	}
	st, spMetadata := tn.anon().raw("GET", "/sso/"+orgID+"/saml/metadata", "", nil)
	if st != 200 || !strings.Contains(string(spMetadata), out.SAMLACSURL) {
		t.Fatalf("SP metadata (status %d) does not name the ACS URL %s", st, out.SAMLACSURL)
	}
	idp.put("/services/siteline", spMetadata)
	idp.setUser("grace", "plant-admins")

	login := func(name string) (*ssoAttempt, string, string) {
		a := startSSOLogin(t, tn)
		jar, _ := cookiejar.New(nil)
		resp, relay := idp.login(t, a.auth, name, jar)
		return a, resp, relay
	}
	me := func(b *browser) []string {
		var m struct {
			Roles []string `json:"roles"`
		}
		if st := b.do("GET", "/api/v1/me", nil, &m); st != 200 {
			t.Fatalf("me: status %d", st)
		}
		return m.Roles
	}
	refused := func(t *testing.T, st int, b *browser, body, want string) {
		t.Helper()
		if b != nil {
			t.Fatalf("refused login started a session (status %d)", st)
		}
		t.Logf("refused: %.300s", pageError(body))
		if st != http.StatusUnauthorized || !strings.Contains(strings.ToLower(body), strings.ToLower(want)) {
			t.Fatalf("status %d, page lacks %q:\n%s", st, want, pageError(body))
		}
	}

	var captured struct{ response, relay string }
	t.Run("first login creates the user with the mapped roles", func(t *testing.T) {
		idp.setUser("grace", "plant-admins")
		a, resp, relay := login("grace")
		st, b, body := a.post(resp, relay)
		if st != http.StatusSeeOther || b == nil {
			t.Fatalf("login: status %d: %s", st, pageError(body))
		}
		if roles := me(b); !slices.Contains(roles, policy.RoleAdministrator) {
			t.Fatalf("roles %v, want administrator", roles)
		}
		captured.response, captured.relay = resp, relay
	})

	t.Run("a later login updates the roles", func(t *testing.T) {
		idp.setUser("grace", "operators")
		a, resp, relay := login("grace")
		st, b, body := a.post(resp, relay)
		if st != http.StatusSeeOther || b == nil {
			t.Fatalf("login: status %d: %s", st, pageError(body))
		}
		if roles := me(b); slices.Contains(roles, policy.RoleAdministrator) || !slices.Contains(roles, policy.RoleRegular) {
			t.Fatalf("roles %v, want regular only", roles)
		}
	})

	t.Run("a replayed response is refused", func(t *testing.T) {
		a := startSSOLogin(t, tn)
		st, b, body := a.post(captured.response, a.auth.Query().Get("RelayState"))
		refused(t, st, b, body, "InResponseTo")
	})

	t.Run("an assertion signed by another key is refused", func(t *testing.T) {
		impostor := startIdP(t, idp.url)
		impostor.put("/services/siteline", spMetadata)
		impostor.setUser("grace", "plant-admins")
		a := startSSOLogin(t, tn)
		jar, _ := cookiejar.New(nil)
		resp, relay := impostor.login(t, a.auth, "grace", jar)
		st, b, body := a.post(resp, relay)
		refused(t, st, b, body, "signature")
	})

	t.Run("an unsigned assertion is refused", func(t *testing.T) {
		a, resp, relay := login("grace")
		resp = editResponse(t, resp, func(doc *etree.Document) { removeSignatures(doc.Root()) })
		st, b, body := a.post(resp, relay)
		refused(t, st, b, body, "signature")
	})

	t.Run("an expired assertion is refused", func(t *testing.T) {
		a, resp, relay := login("grace")
		offset.Store(int64(5 * time.Minute))
		defer offset.Store(0)
		st, b, body := a.post(resp, relay)
		refused(t, st, b, body, "expired")
	})

	t.Run("an assertion for another audience is refused", func(t *testing.T) {
		other := saml.ServiceProvider{EntityID: "https://other.example/saml/metadata", AcsURL: mustURL(t, out.SAMLACSURL),
			MetadataURL: mustURL(t, "https://other.example/saml/metadata")}
		md, _ := xml.Marshal(other.Metadata())
		idp.put("/services/other", md)
		a := startSSOLogin(t, tn)
		jar, _ := cookiejar.New(nil)
		resp, relay := idp.login(t, editRequest(t, a.auth, other.EntityID), "grace", jar)
		st, b, body := a.post(resp, relay)
		refused(t, st, b, body, "audience")
	})

	t.Run("a signature-wrapped assertion is refused", func(t *testing.T) {
		a, resp, relay := login("grace")
		resp = editResponse(t, resp, func(doc *etree.Document) {
			root := doc.Root()
			for _, sig := range root.SelectElements("Signature") {
				root.RemoveChild(sig) // the response's own signature
			}
			signed := root.FindElement("./Assertion")
			evil := signed.Copy()
			evil.CreateAttr("ID", "id-evil")
			removeSignatures(evil)
			for _, v := range evil.FindElements(".//AttributeValue") {
				if v.Text() == "grace@plant.example" {
					v.SetText("mallory@plant.example")
				}
			}
			evil.FindElement(".//NameID").SetText("mallory@plant.example")
			root.InsertChildAt(signed.Index(), evil)
		})
		st, b, body := a.post(resp, relay)
		if b != nil || st != http.StatusUnauthorized {
			t.Fatalf("wrapped assertion: status %d, session %v", st, b != nil)
		}
		if _, err := tn.n.store.UserByEmail(t.Context(), orgID, "mallory@plant.example"); err == nil {
			t.Fatal("the wrapped assertion created mallory")
		}
		if !strings.Contains(body, "Single sign-on failed") {
			t.Fatalf("page gives no reason:\n%s", body)
		}
		t.Logf("refused: %.300s", pageError(body))
	})

	t.Run("IdP-initiated: accepted once, its replay refused", func(t *testing.T) {
		shortcut, _ := json.Marshal(samlidp.Shortcut{Name: "siteline", ServiceProviderID: out.SAMLEntityID})
		idp.put("/shortcuts/siteline", shortcut)
		jar, _ := cookiejar.New(nil)
		login := func() (string, string) {
			// A login at the IdP leaves its session in jar.
			idp.login(t, startSSOLogin(t, tn).auth, "grace", jar)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			r, err := c.Get(idp.addr + "/login/siteline")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(r.Body)
			r.Body.Close()
			f := formValues(page)
			if f["SAMLResponse"] == "" {
				t.Fatalf("the IdP-initiated login posts no SAMLResponse: %s", page)
			}
			return f["SAMLResponse"], f["RelayState"]
		}
		resp, relay := login()
		unsolicited := &ssoAttempt{t: t, tn: tn}
		st, b, body := unsolicited.post(resp, relay)
		if st != http.StatusSeeOther || b == nil {
			t.Fatalf("IdP-initiated login: status %d: %s", st, pageError(body))
		}
		st, b, body = unsolicited.post(resp, relay)
		refused(t, st, b, body, "already been used")
	})
}

func mustURL(t *testing.T, s string) url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return *u
}

// follow sends the browser (jar) through redirects and the auto-posted
// forms of SAML's bindings until a page of Siteline (base) answers
// without one; it returns that answer's status and the URL it came from.
func follow(t *testing.T, jar http.CookieJar, start *url.URL, base string, siteline *browser) (int, string) {
	t.Helper()
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	method, target, form := "GET", start.String(), url.Values(nil)
	for range 10 {
		var resp *http.Response
		var err error
		if strings.HasPrefix(target, base) {
			// Siteline's own pages get the session cookie the harness keeps.
			path := strings.TrimPrefix(target, base)
			var body io.Reader
			ct := ""
			if method == "POST" {
				body, ct = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
			}
			req, _ := http.NewRequest(method, base+path, body)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			if siteline.cookie != "" {
				req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: siteline.cookie})
			}
			resp, err = c.Do(req)
		} else if method == "POST" {
			resp, err = c.PostForm(target, form)
		} else {
			resp, err = c.Get(target)
		}
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if loc, err := resp.Location(); err == nil {
			method, target, form = "GET", resp.Request.URL.ResolveReference(loc).String(), nil
			continue
		}
		if f := formValues(page); f["SAMLRequest"] != "" || f["SAMLResponse"] != "" {
			action := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(page)
			if action == nil {
				t.Fatalf("auto-posted form without action: %s", page)
			}
			form = url.Values{}
			for k, v := range f {
				form.Set(k, v)
			}
			method, target = "POST", html.UnescapeString(string(action[1]))
			continue
		}
		return resp.StatusCode, target
	}
	t.Fatalf("more than 10 hops from %s", start)
	return 0, ""
}

// TestSSOSAMLSingleLogout: logging out of Siteline logs out at the IdP
// too, and the IdP's own logout ends the Siteline session.
func TestSSOSAMLSingleLogout(t *testing.T) {
	tn := startNode(t, Config{})
	orgID := tn.n.OrgID()
	idp := startIdP(t, "")
	// The metadata is read from the IdP's URL.
	var e web.ErrorBody
	bad := web.SSOInput{Company: "Acme SAML", SAMLMetadataURL: idp.addr + "/no-such-metadata"}
	if st := tn.admin().do("PUT", "/api/v1/organisation/sso", bad, &e); st != 400 || !strings.Contains(e.Error, "saml_metadata_url") {
		t.Fatalf("metadata URL that answers 404: status %d %q, want 400 naming saml_metadata_url", st, e.Error)
	}
	in := web.SSOInput{Company: "Acme SAML", SAMLMetadataURL: idp.addr + "/metadata"}
	if st := tn.admin().do("PUT", "/api/v1/organisation/sso", in, nil); st != 200 {
		t.Fatalf("save SSO settings: status %d", st)
	}
	_, spMetadata := tn.anon().raw("GET", "/sso/"+orgID+"/saml/metadata", "", nil)
	if !strings.Contains(string(spMetadata), "SingleLogoutService") {
		t.Fatal("SP metadata has no SingleLogoutService")
	}
	idp.put("/services/siteline", spMetadata)
	idp.setUser("grace")

	login := func(jar http.CookieJar) *browser {
		t.Helper()
		a := startSSOLogin(t, tn)
		resp, relay := idp.login(t, a.auth, "grace", jar)
		st, b, body := a.post(resp, relay)
		if st != http.StatusSeeOther || b == nil {
			t.Fatalf("login: status %d: %s", st, pageError(body))
		}
		var me struct {
			CSRFToken string `json:"csrf_token"`
		}
		if st := b.do("GET", "/api/v1/me", nil, &me); st != 200 {
			t.Fatalf("me: %d", st)
		}
		b.csrf = me.CSRFToken
		return b
	}

	t.Run("logging out of Siteline logs out at the IdP", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		b := login(jar)
		form := url.Values{"_csrf": {b.csrf}}
		req, _ := http.NewRequest("POST", tn.url+"/logout", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: b.cookie})
		out, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		to, err := out.Location()
		if out.StatusCode != http.StatusSeeOther || err != nil {
			t.Fatalf("logout: status %d", out.StatusCode)
		}
		if !strings.HasPrefix(to.String(), idp.addr+"/slo") || to.Query().Get("SAMLRequest") == "" {
			t.Fatalf("logout went to %s, not the IdP's single logout", to)
		}
		status, last := follow(t, jar, to, tn.url, b)
		if status != 200 || !strings.HasPrefix(last, tn.url+"/login") {
			t.Fatalf("the logout ended at %s (status %d), not Siteline's login page", last, status)
		}
		if st := b.do("GET", "/api/v1/me", nil, nil); st != 401 {
			t.Fatalf("session after logout: status %d", st)
		}
		// The IdP forgot the person: a new login asks for the password.
		a := startSSOLogin(t, tn)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		resp, err := c.Get(strings.Replace(a.auth.String(), idp.url, idp.addr, 1))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), `name="password"`) {
			t.Fatalf("the IdP still had a session after the single logout: %.300s", page)
		}
	})

	t.Run("the IdP's logout ends the Siteline session", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		b := login(jar)
		start, _ := url.Parse(idp.addr + "/logout")
		status, last := follow(t, jar, start, tn.url, b)
		if status != 200 || !strings.HasPrefix(last, idp.addr) {
			t.Fatalf("the IdP's logout ended at %s (status %d), not back at the IdP", last, status)
		}
		if st := b.do("GET", "/api/v1/me", nil, nil); st != 401 {
			t.Fatalf("Siteline session after the IdP's logout: status %d, want 401", st)
		}
	})
}
