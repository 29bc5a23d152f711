package node

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/node/org"
	"siteline/web"
)

// Regression tests of issue 13's login and session items; each names its
// item number.

// loginFrom logs in through the API as from address (sent in
// X-Forwarded-For, believed when the node trusts loopback as its proxy);
// it returns the status, the error body and the Retry-After header.
func loginFrom(tn *testNode, address, email, password string) (int, web.ErrorBody, string) {
	tn.t.Helper()
	req, err := http.NewRequest("POST", tn.url+"/api/v1/session",
		strings.NewReader(`{"email":`+strconv.Quote(email)+`,"password":`+strconv.Quote(password)+`}`))
	if err != nil {
		tn.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if address != "" {
		req.Header.Set("X-Forwarded-For", address)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		tn.t.Fatalf("login: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e web.ErrorBody
	if resp.StatusCode != 200 {
		e = apiError(tn.t, data)
	}
	return resp.StatusCode, e, resp.Header.Get("Retry-After")
}

// behindProxy is a node that believes X-Forwarded-For from loopback, so
// one test client can speak from many addresses.
func behindProxy(t *testing.T, mod func(*Config), opts Options) *testNode {
	t.Helper()
	cfg := testConfig(t, shortTempDir(t))
	cfg.HTTP.TrustedProxies = []string{"127.0.0.1"}
	if mod != nil {
		mod(&cfg)
	}
	return startNodeWith(t, cfg, opts)
}

// Item 1: concurrent wrong passwords are reserved before they are hashed:
// a flood from one address gets no more checks than its budget, the rest
// are refused at once with Retry-After, and the real user, elsewhere, logs
// in straight after.
func TestConcurrentLoginFloodIsRefusedBeforeHashing(t *testing.T) {
	// Hashes at production cost: the slower they are, the wider the window
	// a check made after hashing would leave the flood.
	tn := behindProxy(t, nil, Options{PasswordCost: &org.DefaultCost})
	email := tn.cfg.Organisation.AdminEmail
	const flood = 200
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		noRetry  int
	)
	for i := 0; i < flood; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, retry := loginFrom(tn, "203.0.113.7", email, "wrong password "+strconv.Itoa(i))
			mu.Lock()
			defer mu.Unlock()
			statuses[st]++
			if n, err := strconv.Atoi(retry); st == 429 && (err != nil || n < 1) {
				noRetry++
			}
		}()
	}
	wg.Wait()
	if statuses[401] > tn.cfg.Auth.LoginFailuresPerAddress || statuses[401]+statuses[429] != flood {
		t.Errorf("%d concurrent wrong passwords from one address: %v; want at most %d checked (401), the rest refused (429)",
			flood, statuses, tn.cfg.Auth.LoginFailuresPerAddress)
	}
	if noRetry > 0 {
		t.Errorf("%d refusals without a Retry-After of at least 1s", noRetry)
	}
	if st, e, _ := loginFrom(tn, "198.51.100.20", email, tn.password); st != 200 {
		t.Errorf("the real user after the flood = %d %+v, want 200", st, e)
	}
}

// Item 9: failures from elsewhere do not lock the real user out; an
// address that failed waits a delay that says how long, and then gets in.
func TestLoginLockoutIsNoWeapon(t *testing.T) {
	clk := newClock()
	tn := behindProxy(t, nil, Options{Now: clk.Now})
	email := tn.cfg.Organisation.AdminEmail
	attacker := "203.0.113.9"
	for i := 0; i < 10; i++ {
		st, e, _ := loginFrom(tn, attacker, email, "a wrong guess "+strconv.Itoa(i))
		if st != 401 && st != 429 {
			t.Fatalf("guess %d = %d %+v", i, st, e)
		}
	}
	// The account is under attack; its owner, at their own desk, gets in.
	for i := 0; i < 5; i++ {
		if st, e, _ := loginFrom(tn, "198.51.100.30", email, tn.password); st != 200 {
			t.Fatalf("right password %d from a clean address = %d %+v, want 200", i, st, e)
		}
	}
	// The attacker's address waits, and is told how long, on the API...
	st, e, retry := loginFrom(tn, attacker, email, tn.password)
	wait, _ := strconv.Atoi(retry)
	if st != 429 || e.Code != "rate_limited" || wait < 1 || !strings.Contains(e.Error, "try again in") {
		t.Fatalf("right password from the failing address = %d %+v Retry-After %q; want 429 saying how long", st, e, retry)
	}
	// ... and on the login page.
	form := url.Values{"email": {email}, "password": {tn.password}}
	req, _ := http.NewRequest("POST", tn.url+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", attacker)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(page), "try again in") {
		t.Errorf("login page from the failing address = %d, Retry-After %q; want 429 saying how long:\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
	// A delay, not a lock: once it has passed, the right password works.
	clk.Add(time.Duration(wait) * time.Second)
	if st, e, _ := loginFrom(tn, attacker, email, tn.password); st != 200 {
		t.Errorf("right password after the wait = %d %+v, want 200", st, e)
	}
}

// Item 12: the HTML login form refuses a post from another site.
func TestLoginFormRefusesCrossSitePosts(t *testing.T) {
	tn := startNode(t, Config{})
	post := func(h map[string]string) (int, bool) {
		form := url.Values{"email": {tn.cfg.Organisation.AdminEmail}, "password": {tn.password}}
		req, _ := http.NewRequest("POST", tn.url+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == web.SessionCookie && c.Value != "" {
				return resp.StatusCode, true
			}
		}
		return resp.StatusCode, false
	}
	for _, h := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
		{"Referer": "https://evil.example/login-trap.html"},
		{"Sec-Fetch-Site": "cross-site"},
	} {
		if st, cookie := post(h); st != 403 || cookie {
			t.Errorf("login form posted with %v = %d (session cookie %v), want 403 and no session", h, st, cookie)
		}
	}
	for _, h := range []map[string]string{
		{"Origin": tn.url},
		{"Referer": tn.url + "/login"},
		{"Sec-Fetch-Site": "same-origin"},
	} {
		if st, cookie := post(h); st != 303 || !cookie {
			t.Errorf("login form posted with %v = %d (session cookie %v), want 303 and a session", h, st, cookie)
		}
	}
}

// Item 13: changing one's password ends one's other sessions and keeps
// the one that changed it.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	tn := startNode(t, Config{})
	if st := tn.admin().do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: "technician password"}, nil); st != 201 {
		t.Fatalf("create user = %d", st)
	}
	here := tn.login("tech@plant.example", "technician password")
	phone := tn.login("tech@plant.example", "technician password")
	if st := here.do("POST", "/api/v1/me/password", map[string]string{"current": "technician password", "new": "a fresh technician secret"}, nil); st != 204 {
		t.Fatalf("change password = %d", st)
	}
	if st := phone.do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Errorf("the other session after the change: GET /me = %d, want 401", st)
	}
	if st := here.do("GET", "/api/v1/me", nil, nil); st != 200 {
		t.Errorf("the session that changed it: GET /me = %d, want 200", st)
	}
	if st := here.do("DELETE", "/api/v1/session", nil, nil); st != 204 {
		t.Errorf("the session that changed it, with its CSRF token: logout = %d, want 204", st)
	}
}

// Item 14: the most common passwords and one character repeated are
// refused, with an error saying why.
func TestPasswordPolicyRefusesCommonPasswords(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	for _, tc := range []struct{ pw, want string }{
		{"password123", "most common"},
		{"Password2024!", "most common"},
		{"qwertyuiop", "most common"},
		{"1234567890", "most common"},
		{"iloveyou!!", "most common"},
		{"aaaaaaaaaaaa", "one character repeated"},
		{"9999999999", "one character repeated"},
	} {
		var e web.ErrorBody
		st := b.do("POST", "/api/v1/users", web.UserInput{Email: "refused@plant.example", Password: tc.pw}, &e)
		if st != 400 || !strings.Contains(e.Error, "password") || !strings.Contains(e.Error, tc.want) {
			t.Errorf("create a user with password %q = %d %+v; want 400 saying %q", tc.pw, st, e, tc.want)
		}
		st = b.do("POST", "/api/v1/me/password", map[string]string{"current": tn.password, "new": tc.pw}, &e)
		if st != 400 || !strings.Contains(e.Error, tc.want) {
			t.Errorf("change to password %q = %d %+v; want 400 saying %q", tc.pw, st, e, tc.want)
		}
	}
	if st := b.do("POST", "/api/v1/users", web.UserInput{Email: "new@plant.example", Password: "lathe seven cobalt"}, nil); st != 201 {
		t.Errorf("create a user with an uncommon password = %d, want 201", st)
	}
}

// Item 23: answers over TLS carry Strict-Transport-Security; plain HTTP
// ones do not.
func TestHSTSWhenTLSIsOn(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.HTTP.TLS = "auto"
	tlsNode := startNodeAsIs(t, cfg, Options{})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the node's own self-signed certificate
	}}
	resp, err := client.Get(tlsNode.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Errorf("HTTPS answer: Strict-Transport-Security = %q, want max-age=...", h)
	}

	plain := startNode(t, Config{})
	resp, err = http.Get(plain.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("plain HTTP answer: Strict-Transport-Security = %q, want none", h)
	}
}

// Item 28: an Origin with this host but another scheme is another origin,
// for cookie-authenticated API calls and WebSocket upgrades alike.
func TestOriginChecksCompareTheScheme(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	other := "https://" + strings.TrimPrefix(tn.url, "http://") // the node speaks plain HTTP here
	var e web.ErrorBody
	if st := b.with("Origin", other).do("POST", "/api/v1/teams", map[string]string{"name": "Line 1"}, &e); st != 403 || e.Code != "csrf" {
		t.Errorf("POST with Origin %s = %d %+v, want 403 csrf", other, st, e)
	}
	if st := b.with("Origin", tn.url).do("POST", "/api/v1/teams", map[string]string{"name": "Line 2"}, nil); st != 201 {
		t.Errorf("POST with Origin %s = %d, want 201", tn.url, st)
	}
	if conn, st, body, err := dialEvents(tn.url, b.cookie, other); err == nil || st != 403 {
		if conn != nil {
			conn.Close()
		}
		t.Errorf("events socket with Origin %s = %d %s, want 403", other, st, body)
	}
	conn, st, body, err := dialEvents(tn.url, b.cookie, tn.url)
	if err != nil {
		t.Fatalf("events socket with Origin %s = %d %s: %v", tn.url, st, body, err)
	}
	conn.Close()
}

// Item 30: behind a trusted proxy the client's address is the nearest
// untrusted one of X-Forwarded-For, for throttling and the session record;
// without the setting X-Forwarded-For is ignored.
func TestTrustedProxyGivesTheClientAddress(t *testing.T) {
	few := func(c *Config) { c.Auth.LoginFailuresPerAddress = 3 }
	tn := behindProxy(t, few, Options{})
	fail := func(tn *testNode, address string, i int) (int, web.ErrorBody) {
		st, e, _ := loginFrom(tn, address, "nobody"+strconv.Itoa(i)+"@plant.example", "not a password")
		return st, e
	}
	for i := 0; i < 3; i++ {
		if st, e := fail(tn, "203.0.113.5", i); st != 401 {
			t.Fatalf("failure %d = %d %+v", i, st, e)
		}
	}
	if st, _ := fail(tn, "203.0.113.5", 3); st != 429 {
		t.Errorf("4th failure from 203.0.113.5 = %d, want 429", st)
	}
	if st, _ := fail(tn, "203.0.113.99, 203.0.113.5", 4); st != 429 {
		t.Errorf("203.0.113.5 prefixing a made-up address = %d, want 429 (the proxy's hop is the client)", st)
	}
	if st, _ := fail(tn, "203.0.113.6", 5); st != 401 {
		t.Errorf("another address behind the proxy = %d, want 401", st)
	}
	b := tn.anon().with("X-Forwarded-For", "198.51.100.4")
	if st := b.do("POST", "/api/v1/session", map[string]string{"email": tn.cfg.Organisation.AdminEmail, "password": tn.password}, nil); st != 200 {
		t.Fatalf("login behind the proxy = %d", st)
	}
	sum := sha256.Sum256([]byte(b.cookie))
	sess, err := tn.n.store.WebSession(context.Background(), hex.EncodeToString(sum[:]))
	if err != nil || sess.Address != "198.51.100.4" {
		t.Errorf("session address = %q, %v; want 198.51.100.4", sess.Address, err)
	}

	// Not a trusted proxy: X-Forwarded-For is the client's say-so.
	cfg := testConfig(t, shortTempDir(t))
	few(&cfg)
	direct := startNode(t, cfg)
	for i := 0; i < 3; i++ {
		fail(direct, "203.0.113."+strconv.Itoa(10+i), i)
	}
	if st, _ := fail(direct, "203.0.113.20", 3); st != 429 {
		t.Errorf("4th failure from loopback claiming another address = %d, want 429", st)
	}

	bad := testConfig(t, shortTempDir(t))
	bad.HTTP.TrustedProxies = []string{"10.0.0.0/33"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "http.trusted_proxies") {
		t.Errorf("Validate with a bad CIDR = %v, want an error naming http.trusted_proxies", err)
	}
}

// Item 31: the generated first password works once, to choose another:
// its file goes at that login, every page and API call waits for the new
// password, and then the flag is gone.
func TestFirstLoginMustReplaceGeneratedPassword(t *testing.T) {
	tn := startNodeAsIs(t, testConfig(t, shortTempDir(t)), Options{})
	file := filepath.Join(tn.cfg.DataDir, InitialPasswordFile)
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("initial password file mode = %o, want 600", perm)
	}
	data, _ := os.ReadFile(file)
	first := strings.TrimSpace(string(data))
	email := tn.cfg.Organisation.AdminEmail

	b := tn.login(email, first)
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("initial password file after the first login: %v, want it removed", err)
	}
	var e web.ErrorBody
	if st := b.do("GET", "/api/v1/users", nil, &e); st != 403 || e.Code != "password_change_required" {
		t.Errorf("API call before the change = %d %+v, want 403 password_change_required", st, e)
	}
	req, _ := http.NewRequest("GET", tn.url+"/users", nil)
	req.Header.Set("Accept", "text/html")
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: b.cookie})
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/account" {
		t.Errorf("page before the change = %d to %q, want 303 to /account", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st := b.do("GET", "/api/v1/me", nil, nil); st != 200 {
		t.Errorf("GET /me before the change = %d, want 200", st)
	}
	if st := b.do("POST", "/api/v1/me/password", map[string]string{"current": first, "new": first}, &e); st != 400 {
		t.Errorf("keeping the generated password = %d %+v, want 400", st, e)
	}
	if st := b.do("POST", "/api/v1/me/password", map[string]string{"current": first, "new": "my own admin password"}, nil); st != 204 {
		t.Fatalf("change password = %d", st)
	}
	if st := b.do("GET", "/api/v1/users", nil, nil); st != 200 {
		t.Errorf("API call after the change = %d, want 200", st)
	}
	if st := tn.anon().do("POST", "/api/v1/session", map[string]string{"email": email, "password": first}, nil); st != 401 {
		t.Errorf("login with the generated password after the change = %d, want 401", st)
	}
	if st := tn.login(email, "my own admin password").do("GET", "/api/v1/teams", nil, nil); st != 200 {
		t.Errorf("a new login after the change: GET /teams = %d, want 200", st)
	}
}
