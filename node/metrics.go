package node

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registerMetrics fills the node's own registry (never the global one, so
// several nodes live in one test process).
func (n *Node) registerMetrics() {
	n.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "siteline_raft_leader", Help: "1 when this node is the Raft leader.",
		}, func() float64 {
			if n.raft.IsLeader() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "siteline_raft_applied_index", Help: "Index of the last organisation change applied here.",
		}, func() float64 { return float64(n.raft.Stats().AppliedIndex) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "siteline_bus_ready", Help: "1 when the embedded NATS server and its client are up.",
		}, func() float64 {
			if n.bus != nil && n.bus.Ready() {
				return 1
			}
			return 0
		}),
	)
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "siteline_build_info", Help: "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": Version},
	}, func() float64 { return 1 }))
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
