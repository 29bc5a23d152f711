package node

import "time"

// SupervisionConfig shapes the live team dashboard.
type SupervisionConfig struct {
	// IdleAfter is how long a member's open page may go without activity
	// before the dashboard shows them idle.
	IdleAfter time.Duration `yaml:"idle_after"`
}
