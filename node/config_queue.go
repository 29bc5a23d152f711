package node

import (
	"fmt"
	"time"

	"siteline/storage"
)

// QueueConfig is the team queues of service requests (node/queue).
type QueueConfig struct {
	// Strategy is the order of a team that set none: round-robin or
	// longest-idle.
	Strategy string `yaml:"strategy"`
	// OfferTimeout is how long an offer waits for the member before it
	// moves to the next one.
	OfferTimeout time.Duration `yaml:"offer_timeout"`
}

func defaultQueue() QueueConfig {
	return QueueConfig{Strategy: storage.StrategyRoundRobin, OfferTimeout: 20 * time.Second}
}

func (c *Config) validateQueue() error {
	if !storage.ValidStrategy(c.Queue.Strategy) {
		return fmt.Errorf("config queue.strategy: %q is not one of round-robin, longest-idle", c.Queue.Strategy)
	}
	if t := c.Queue.OfferTimeout; t < time.Second || t > 10*time.Minute {
		return fmt.Errorf("config queue.offer_timeout: %s is outside 1s to 10m", t)
	}
	return nil
}
