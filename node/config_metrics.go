package node

// MetricsConfig is who may read /metrics. The admin socket always serves
// it; the public listener only to a request that brings Token as a
// bearer token, and not at all while Token is empty.
type MetricsConfig struct {
	Token string `yaml:"token"`
}

// minMetricsToken is the shortest metrics.token accepted.
const minMetricsToken = 16
