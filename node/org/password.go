package org

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed" // the common password list
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/crypto/argon2"

	"siteline/node/internal/ids"
)

// Cost is the work of one argon2id hash.
type Cost struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8  // lanes
}

// DefaultCost is RFC 9106's second recommended option (64 MiB, 3 passes),
// with 2 lanes for a 2-core plant server. Nodes use it; only tests of the
// use cases ask for less.
var DefaultCost = Cost{Time: 3, Memory: 64 * 1024, Threads: 2}

const (
	argonKeyLen  = 32
	argonSaltLen = 16
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// Hasher hashes passwords with argon2id at its cost, and bounds how many
// logins hash at once: each hash takes Cost.Memory, so a burst of logins
// must queue rather than exhaust memory.
type Hasher struct {
	cost  Cost
	slots chan struct{}

	// dummy is verified against when a login names no user, so an unknown
	// e-mail takes as long to refuse as a wrong password. It is made on
	// first use (64 MiB of argon2 work is not free at start).
	dummyOnce sync.Once
	dummy     string
}

// NewHasher returns a Hasher at cost letting at most concurrent logins
// hash at once.
func NewHasher(cost Cost, concurrent int) *Hasher {
	return &Hasher{cost: cost, slots: make(chan struct{}, max(concurrent, 1))}
}

// Hash returns a PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$key.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	c := h.cost
	key := argon2.IDKey([]byte(password), salt, c.Time, c.Memory, c.Threads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, c.Memory, c.Time, c.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// wait waits for one of the hashing slots; call the returned function when
// done.
func (h *Hasher) wait(ctx context.Context) (func(), error) {
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to hash a password: %w", ctx.Err())
	}
}

// dummyHash returns a hash to verify against when there is no user to
// check.
func (h *Hasher) dummyHash() string {
	h.dummyOnce.Do(func() {
		d, err := h.Hash(ids.New())
		if err != nil {
			panic(err) // only crypto/rand can fail, and it does not
		}
		h.dummy = d
	})
	return h.dummy
}

// Verify checks a password against a PHC string in constant time, with
// the parameters the hash was made with.
func Verify(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	var mem, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil {
		return false, fmt.Errorf("argon2 parameters %q: %w", parts[3], err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("argon2 salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("argon2 key: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// CheckPasswordStrength refuses passwords too short to resist guessing,
// one character repeated, and the most common ones.
func CheckPasswordStrength(field, password string) error {
	runes := []rune(password)
	if len(runes) < MinPasswordLength {
		return validation(field, fmt.Sprintf("must be at least %d characters", MinPasswordLength))
	}
	if len(password) > 1024 {
		return validation(field, "must be at most 1024 bytes")
	}
	if strings.Count(password, string(runes[0])) == len(runes) {
		return validation(field, "must not be one character repeated")
	}
	if commonPassword(password) {
		return validation(field, "is one of the most common passwords, which are tried first: choose another")
	}
	return nil
}

// commonPasswords is the embedded list, one lower-case password a line
// after a comment.
//
//go:embed common-passwords.txt
var commonPasswords string

// commonPassword reports whether p is on the list, or is a listed password
// padded with digits and symbols ("Password123!", "2024qwerty").
func commonPassword(p string) bool {
	p = strings.ToLower(p)
	core := strings.TrimFunc(p, func(r rune) bool { return !unicode.IsLetter(r) })
	for _, w := range []string{p, core} {
		if w != "" && strings.Contains(commonPasswords, "\n"+w+"\n") {
			return true
		}
	}
	return false
}

// GeneratePassword makes a random password of 24 characters (144 bits).
func GeneratePassword() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
