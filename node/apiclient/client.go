// Package apiclient calls a node's JSON API: over the admin socket of a
// node on this machine (as its operator) or over HTTPS with an API token.
// It is the command line's client, and a joining node's to the voter it
// joins through. Its types are the API's answers and requests as the
// command line reads and sends them.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"siteline/web"
)

// Client calls a node's JSON API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// APIError is an error answer of the API.
type APIError struct {
	Status     int    `json:"-"`
	Message    string `json:"error"`
	Code       string `json:"code"`
	Permission string `json:"permission,omitempty"`
}

func (e *APIError) Error() string {
	if e.Permission != "" {
		return fmt.Sprintf("%s (HTTP %d, missing permission %s)", e.Message, e.Status, e.Permission)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// Socket talks to the node whose admin socket is at path.
func Socket(path string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{base: "http://node", http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// Remote talks to a node at url with an API token, trusting the HTTPS
// certificates this machine trusts and those trust names (a node's
// self-signed certificate pinned by its fingerprint). A certificate it
// does not trust fails the calls with an *UntrustedCertError naming the
// certificate's fingerprint.
func Remote(url, token string, trust Trust) (*Client, error) {
	tc, err := trust.tlsConfig()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &Client{base: strings.TrimRight(url, "/"), token: token, http: &http.Client{Transport: tr, Timeout: time.Minute}}, nil
}

// Do sends in as JSON (when not nil) and decodes the answer into out (when
// not nil; a *[]byte receives the body as it is). An error answer comes
// back as *APIError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+web.APIPrefix+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, untrusted(c.base, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return e
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// ParseCheckQuery reads "USER PERMISSION" (or "can USER do PERMISSION?").
func ParseCheckQuery(q string) (user, permission string, err error) {
	return web.CheckArgs("", "", q)
}
