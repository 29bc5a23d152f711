package federation

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"siteline/cluster/pki"
	"siteline/storage"
)

// newJoinToken makes a token: a 256-bit secret and the CA pin.
func newJoinToken(ca *pki.CA) (token string, hash [32]byte, err error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", hash, err
	}
	fp := ca.Fingerprint()
	enc := base64.RawURLEncoding
	return joinTokenPrefix + "." + enc.EncodeToString(secret) + "." + enc.EncodeToString(fp[:pinLen]), sha256.Sum256(secret), nil
}

// parseToken returns the SHA-256 of a token's secret and its CA pin.
func parseToken(token string) (hash [32]byte, pin []byte, err error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	bad := &storage.ValidationError{Field: "token", Problem: "is not a join token"}
	if len(parts) != 3 || parts[0] != joinTokenPrefix {
		return hash, nil, bad
	}
	secret, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	pin, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(secret) != 32 || len(pin) != pinLen {
		return hash, nil, bad
	}
	return sha256.Sum256(secret), pin, nil
}

func tokenPin(token string) ([]byte, error) {
	_, pin, err := parseToken(token)
	return pin, err
}

type joinTokenRecord struct {
	// Role is what the token admits; tokens minted before roles admit
	// plants.
	Role      pki.Role   `json:"role,omitempty"`
	ExpiresAt time.Time  `json:"expires_at"`
	CreatedBy string     `json:"created_by"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	UsedBy    string     `json:"used_by,omitempty"`
}

// errBadToken is all a caller learns about a token that does not work.
var errBadToken = fmt.Errorf("join token is unknown, used or expired: %w", storage.ErrUnauthenticated)
