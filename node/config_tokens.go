package node

import (
	"fmt"
	"time"
)

// TokensConfig bounds the lifetime of API tokens.
type TokensConfig struct {
	// DefaultTTL is the lifetime of a token created without one.
	DefaultTTL time.Duration `yaml:"default_ttl"`
	// MaxTTL is the longest lifetime a token may be given; a token
	// stored without expiry (made before lifetimes existed) ends MaxTTL
	// after its creation.
	MaxTTL time.Duration `yaml:"max_ttl"`
}

func defaultTokens() TokensConfig {
	return TokensConfig{DefaultTTL: 90 * 24 * time.Hour, MaxTTL: 365 * 24 * time.Hour}
}

func (c *Config) validateTokens() error {
	t := c.Tokens
	if t.MaxTTL < time.Hour {
		return fmt.Errorf("config tokens.max_ttl: must be at least 1h")
	}
	if t.DefaultTTL < time.Minute || t.DefaultTTL > t.MaxTTL {
		return fmt.Errorf("config tokens.default_ttl: must be between 1m and tokens.max_ttl")
	}
	return nil
}
