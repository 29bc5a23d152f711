package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// videoGrant is the part of LiveKit's access token claims that admits a
// participant to a room (protocol/auth.VideoGrant, its JSON names).
type videoGrant struct {
	RoomJoin     bool   `json:"roomJoin"`
	Room         string `json:"room"`
	CanPublish   bool   `json:"canPublish"`
	CanSubscribe bool   `json:"canSubscribe"`
}

// accessToken returns an HS256 JWT that lets identity join room for an
// hour, signed with the API key's secret as LiveKit's auth package does:
// issuer the key, subject the identity, the grant under "video".
func accessToken(key, secret, room, identity string, publish, subscribe bool) (string, error) {
	now := time.Now()
	claims := map[string]any{
		"iss":   key,
		"sub":   identity,
		"name":  identity,
		"nbf":   now.Add(-time.Minute).Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"video": videoGrant{RoomJoin: true, Room: room, CanPublish: publish, CanSubscribe: subscribe},
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("access token for %s: %w", identity, err)
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(mac.Sum(nil)), nil
}
