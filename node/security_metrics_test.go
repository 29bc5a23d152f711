package node

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// getMetrics fetches /metrics from base with an optional bearer token.
func getMetrics(t *testing.T, c *http.Client, base, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// adminSocketClient talks HTTP over the node's admin socket.
func adminSocketClient(tn *testNode) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", tn.n.AdminSocket())
	}}}
}

// /metrics is not public by default: the admin socket serves it, the
// public listener only with metrics.token as a bearer token (issue 13, item
// 27).
func TestMetricsAreNotPublic(t *testing.T) {
	isMetrics := func(st int, body []byte) bool {
		return st == 200 && bytes.Contains(body, []byte("go_goroutines"))
	}
	tn := startNode(t, Config{})
	if st, body := getMetrics(t, http.DefaultClient, tn.url, ""); st != 404 || !strings.Contains(apiError(t, body).Error, "metrics.token") {
		t.Errorf("public /metrics without metrics.token = %d %s, want 404 naming metrics.token", st, body)
	}
	if st, body := getMetrics(t, adminSocketClient(tn), "http://admin", ""); !isMetrics(st, body) {
		t.Errorf("/metrics on the admin socket = %d %.200s", st, body)
	}

	cfg := testConfig(t, shortTempDir(t))
	cfg.Metrics.Token = "scrape-me-0123456789abcdef"
	tn = startNode(t, cfg)
	for _, tok := range []string{"", "wrong-token-0123456789abcdef", "stl_" + cfg.Metrics.Token} {
		if st, body := getMetrics(t, http.DefaultClient, tn.url, tok); st != 401 {
			t.Errorf("public /metrics with token %q = %d %.200s, want 401", tok, st, body)
		}
	}
	// A logged-in administrator's session is no metrics token either.
	if st, body := tn.admin().raw("GET", "/metrics", "", nil); st != 401 {
		t.Errorf("public /metrics with a session = %d %.200s, want 401", st, body)
	}
	if st, body := getMetrics(t, http.DefaultClient, tn.url, cfg.Metrics.Token); !isMetrics(st, body) {
		t.Errorf("public /metrics with metrics.token = %d %.200s", st, body)
	}

	bad := testConfig(t, shortTempDir(t))
	bad.Metrics.Token = "short"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "metrics.token") {
		t.Errorf("Validate with a short metrics.token = %v, want an error naming it", err)
	}
}
