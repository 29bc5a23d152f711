package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"siteline/media/client"
)

// node is a Siteline node under test: each room is a call started through
// the API, each participant a signaling WebSocket with the API token.
type node struct {
	url, token string
	tls        *tls.Config
	hc         *http.Client
}

// Room starts a call through POST /api/v1/calls.
func (n *node) Room(ctx context.Context, r int) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": fmt.Sprintf("load %d", r), "goal": "siteline-load"})
	req, err := http.NewRequestWithContext(ctx, "POST", n.url+"/api/v1/calls", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("create call: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+n.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("create call: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create call: %s: %s", resp.Status, data)
	}
	var s struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &s); err != nil || s.ID == "" {
		return "", fmt.Errorf("create call: no id in %s", data)
	}
	return s.ID, nil
}

// Dial opens the call's signaling WebSocket.
func (n *node) Dial(ctx context.Context, callID, _ string, _ bool) (client.Signaler, error) {
	ws, err := client.DialWS(ctx, n.url+"/api/v1/calls/"+callID+"/signal", client.WSOptions{Token: n.token, TLS: n.tls})
	if err != nil {
		return nil, err
	}
	return ws, nil
}
