package sfu

import (
	"fmt"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the SFU's Prometheus series. Counts of rooms, participants
// and tracks are read from the SFU at scrape time.
type metrics struct {
	bytes       *prometheus.CounterVec // direction: in, out
	packets     *prometheus.CounterVec // direction: in, out
	lost        prometheus.Counter
	nacks       *prometheus.CounterVec // direction: received (from subscribers), sent (to publishers)
	retransmits *prometheus.CounterVec // result: sent, missed (no longer cached)
	dropped     prometheus.Counter
	keyframes   prometheus.Counter
	layerMoves  prometheus.Counter
	estimators  prometheus.Gauge
	conns       *prometheus.GaugeVec // direction: publish, subscribe
}

func newMetrics(reg prometheus.Registerer, s *SFU) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siteline_sfu_rtp_bytes_total",
			Help: "RTP payload and header bytes received from publishers (in) and sent to subscribers (out).",
		}, []string{"direction"}),
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siteline_sfu_rtp_packets_total",
			Help: "RTP packets received from publishers (in) and sent to subscribers (out).",
		}, []string{"direction"}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siteline_sfu_rtp_packets_lost_total",
			Help: "RTP packets missing on arrival from publishers, before NACK recovery.",
		}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siteline_sfu_nacks_total",
			Help: "Packets named in NACKs received from subscribers (received) and sent to publishers (sent).",
		}, []string{"direction"}),
		retransmits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siteline_sfu_retransmits_total",
			Help: "Packets subscribers NACKed: resent from the publisher's cache (sent), or already gone from it (missed).",
		}, []string{"result"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siteline_sfu_dropped_packets_total",
			Help: "Packets dropped because a subscriber's queue was full.",
		}),
		keyframes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siteline_sfu_keyframe_requests_total",
			Help: "Keyframe requests (PLI) sent to publishers.",
		}),
		layerMoves: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siteline_sfu_simulcast_switches_total",
			Help: "Simulcast layer switches made for subscribers.",
		}),
		estimators: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "siteline_sfu_bandwidth_estimators",
			Help: "Subscribe connections running the send-side bandwidth estimation: those receiving a simulcast track.",
		}),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "siteline_sfu_peer_connections",
			Help: "Peer connections open, by direction: publish (built when a participant first publishes) and subscribe.",
		}, []string{"direction"}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	collectors := []prometheus.Collector{
		m.bytes, m.packets, m.lost, m.nacks, m.retransmits, m.dropped, m.keyframes, m.layerMoves, m.estimators, m.conns,
		gauge("siteline_sfu_rooms", "Rooms open.", func() float64 { r, _, _ := s.counts(); return float64(r) }),
		gauge("siteline_sfu_participants", "Participants in rooms, hidden ones included.", func() float64 { _, p, _ := s.counts(); return float64(p) }),
		gauge("siteline_sfu_tracks", "Tracks published.", func() float64 { _, _, t := s.counts(); return float64(t) }),
		counter("siteline_sfu_udp_batches_total", "sendmmsg calls that sent packets queued while another write to the ICE UDP socket was in progress.",
			func() float64 { b, _ := s.batches(); return float64(b) }),
		counter("siteline_sfu_udp_batched_packets_total", "Packets sent in those sendmmsg calls.",
			func() float64 { _, d := s.batches(); return float64(d) }),
		counter("siteline_sfu_udp_send_failures_total", "Queued packets the system refused to send on the ICE UDP socket, dropped.",
			func() float64 { return float64(s.sendFailures()) }),
	}
	for _, d := range []direction{publish, subscribe} {
		m.conns.WithLabelValues(d.String()) // exported at 0 before the first call
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register sfu metrics: %w", err)
		}
	}
	return m, nil
}

// nackCounter is an interceptor that counts the packets named in NACKs
// going out (to publishers) and coming in (from subscribers).
type nackCounter struct {
	interceptor.NoOp
	m *metrics
}

type nackCounterFactory struct{ m *metrics }

func (f nackCounterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &nackCounter{m: f.m}, nil
}

func countNacks(pkts []rtcp.Packet) int {
	n := 0
	for _, p := range pkts {
		if nack, ok := p.(*rtcp.TransportLayerNack); ok {
			for _, pair := range nack.Nacks {
				n += len(pair.PacketList())
			}
		}
	}
	return n
}

func (c *nackCounter) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		if n := countNacks(pkts); n > 0 {
			c.m.nacks.WithLabelValues("sent").Add(float64(n))
		}
		return w.Write(pkts, a)
	})
}

func (c *nackCounter) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := r.Read(b, a)
		if err != nil {
			return n, attr, err
		}
		if attr == nil {
			attr = make(interceptor.Attributes)
		}
		pkts, err := attr.GetRTCPPackets(b[:n])
		if err == nil {
			if k := countNacks(pkts); k > 0 {
				c.m.nacks.WithLabelValues("received").Add(float64(k))
			}
		}
		return n, attr, nil
	})
}
