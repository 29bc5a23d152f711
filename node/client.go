package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"siteline/storage"
	"siteline/web"
)

// Client calls a node's JSON API: over the admin socket of a node on this
// machine (as its operator) or over HTTPS with an API token.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// APIError is an error answer of the API.
type APIError struct {
	Status int
	web.ErrorBody
}

func (e *APIError) Error() string {
	if e.Permission != "" {
		return fmt.Sprintf("%s (HTTP %d, missing permission %s)", e.ErrorBody.Error, e.Status, e.Permission)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.ErrorBody.Error, e.Status)
}

// SocketClient talks to the node whose admin socket is at path.
func SocketClient(path string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{base: "http://node", http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// RemoteClient talks to a node at url with an API token. insecure skips
// certificate checks (a node's self-signed certificate).
func RemoteClient(url, token string, insecure bool) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: insecure} //nolint:gosec // the operator asked for it
	return &Client{base: strings.TrimRight(url, "/"), token: token, http: &http.Client{Transport: tr, Timeout: time.Minute}}
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
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, &e.ErrorBody) != nil || e.ErrorBody.Error == "" {
			e.ErrorBody.Error = strings.TrimSpace(string(data))
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

// Operate runs fn with a client of the node that owns cfg.DataDir: the
// running node through its admin socket, or, when none runs, the data
// directory itself opened by a node started offline for the purpose (no
// public listener, no bus) and stopped afterwards. Either way every change
// takes the same path through the API and the replicated log.
func Operate(ctx context.Context, cfg Config, stdout io.Writer, fn func(*Client) error) error {
	c := SocketClient(adminSocket(cfg.DataDir))
	if err := c.Do(ctx, http.MethodGet, "/version", nil, nil); err == nil {
		return fn(c)
	} else if !isNoNode(err) {
		return err
	}
	cfg.Log.Level = "error"
	n, err := New(cfg, Options{Offline: true, Stdout: stdout})
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	runErr := fn(SocketClient(n.AdminSocket()))
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(runErr, n.Shutdown(stopCtx))
}

// isNoNode tells "no node listens on the socket" from other failures.
func isNoNode(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && ne.Op == "dial"
}

// Types of the API, for the CLI (which imports node alone).
type (
	User      = storage.User
	UserInput = web.UserInput
	UserPatch = web.UserPatch

	PolicyRule    = storage.PolicyRule
	PolicyVersion = storage.PolicyVersion
	GrantInput    = web.GrantInput
	AssignInput   = web.AssignInput
	RoleInput     = web.RoleInput
	ImportInput   = web.ImportInput
	PolicyResult  = web.PolicyResult
	CheckResult   = web.CheckResult
	RoleInfo      = web.RoleInfo
)

// ParseCheckQuery reads "USER PERMISSION" (or "can USER do PERMISSION?").
func ParseCheckQuery(q string) (user, permission string, err error) {
	return web.CheckArgs("", "", q)
}
