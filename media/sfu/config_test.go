package sfu

import (
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type allowAll struct{}

func (allowAll) Check(string, string) error { return nil }

func TestConfigValidate(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for name, cfg := range map[string]Config{
		"no udp":          {Authorizer: allowAll{}},
		"no authorizer":   {UDPConn: conn},
		"negative queue":  {UDPConn: conn, Authorizer: allowAll{}, QueueSize: -1},
		"socket and port": {UDPConn: conn, UDPPort: 8443, Authorizer: allowAll{}},
		"port too large":  {UDPPort: 70000, Authorizer: allowAll{}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
	// Two SFUs on one registry would clash; each node has its own.
	reg := prometheus.NewRegistry()
	if _, err := New(Config{UDPConn: conn, Authorizer: allowAll{}, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{UDPConn: conn, Authorizer: allowAll{}, Registerer: reg}); err == nil {
		t.Error("second SFU registered the same metrics")
	}
}
