package turn

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of the metrics.
const (
	dirClientToPeer = "client_to_peer"
	dirPeerToClient = "peer_to_client"

	stagePermission = "permission" // CreatePermission, ChannelBind, Connect
	stageSend       = "send"       // datagram from the client to a peer
	stageReceive    = "receive"    // datagram from a peer to the client
	stageConnect    = "connect"    // outbound TCP relay connection (RFC 6062)
	stageAccept     = "accept"     // inbound TCP relay connection (RFC 6062)

	refusedUserQuota  = "user_quota"
	refusedOrgQuota   = "org_quota"
	refusedTotalQuota = "total_quota"
	refusedShutdown   = "shutdown"
	refusedRelayError = "relay_error"

	authMalformed    = "malformed"
	authExpired      = "expired"
	authRealm        = "realm"
	authBadIntegrity = "bad_integrity"
	authRevoked      = "revoked" // Config.CheckGrant refused the grant
)

// metrics are the relay's collectors, registered on the node's registry.
type metrics struct {
	created     prometheus.Counter
	refused     *prometheus.CounterVec
	authFailed  *prometheus.CounterVec
	peerRefused *prometheus.CounterVec
	sendFailed  *prometheus.CounterVec

	// Resolved once: they are touched for every relayed datagram.
	bytesToPeer, bytesToClient     prometheus.Counter
	packetsToPeer, packetsToClient prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, allocations func() float64) (*metrics, error) {
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "siteline", Subsystem: "turn", Name: "relayed_bytes_total",
		Help: "Payload bytes relayed, by direction.",
	}, []string{"direction"})
	packets := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "siteline", Subsystem: "turn", Name: "relayed_packets_total",
		Help: "Datagrams (UDP) or writes (TCP) relayed, by direction.",
	}, []string{"direction"})
	m := &metrics{
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "siteline", Subsystem: "turn", Name: "allocations_created_total",
			Help: "Allocations created.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "siteline", Subsystem: "turn", Name: "allocations_refused_total",
			Help: "Allocate requests refused after authentication, by reason.",
		}, []string{"reason"}),
		authFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "siteline", Subsystem: "turn", Name: "auth_failures_total",
			Help: "Requests whose credentials were refused, by reason.",
		}, []string{"reason"}),
		peerRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "siteline", Subsystem: "turn", Name: "peer_refused_total",
			Help: "Permissions, datagrams and connections refused by the peer filter, by stage and reason.",
		}, []string{"stage", "reason"}),
		sendFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "siteline", Subsystem: "turn", Name: "send_failures_total",
			Help: "Relayed datagrams dropped because the system refused a batched send, by direction.",
		}, []string{"direction"}),
		bytesToPeer:     bytes.WithLabelValues(dirClientToPeer),
		bytesToClient:   bytes.WithLabelValues(dirPeerToClient),
		packetsToPeer:   packets.WithLabelValues(dirClientToPeer),
		packetsToClient: packets.WithLabelValues(dirPeerToClient),
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "siteline", Subsystem: "turn", Name: "allocations",
		Help: "Live allocations (relay sockets).",
	}, allocations)
	collectors := []prometheus.Collector{gauge, m.created, m.refused, m.authFailed, m.peerRefused, m.sendFailed, bytes, packets}
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("register turn metrics: %w", err)
		}
	}
	return m, nil
}
