package client

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Meter sums what a set of clients receive over a measuring window, for
// load generators: packets, bytes, sequence gaps, jitter and forwarding
// latency. Received keeps only a mean and a maximum of the latency, so the
// Meter samples each track's mean at every Sample and weighs it by the
// packets it covers: its percentiles are those of the per-interval means,
// which approach the per-packet ones as the interval shrinks and
// understate the tail of a single late packet.
type Meter struct {
	mu      sync.Mutex
	clients []*Client
	base    map[*Received]TrackStats // at Start
	last    map[*Received]TrackStats // at the previous Sample
	lat     []weighted
	started time.Time
}

type weighted struct {
	v time.Duration
	n uint64
}

// NewMeter measures what clients receive.
func NewMeter(clients []*Client) *Meter {
	return &Meter{clients: clients, base: map[*Received]TrackStats{}, last: map[*Received]TrackStats{}}
}

// Start opens the window: what was received before it is not counted.
func (m *Meter) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started = time.Now()
	m.lat = m.lat[:0]
	for _, c := range m.clients {
		for _, r := range c.Tracks() {
			s := r.Stats()
			m.base[r], m.last[r] = s, s
		}
	}
}

// Sample records each track's mean latency since the previous Sample.
func (m *Meter) Sample() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.clients {
		for _, r := range c.Tracks() {
			s := r.Stats()
			prev, ok := m.last[r]
			if !ok { // a track that came during the window counts from here
				m.base[r] = s
			} else if n := s.Packets - prev.Packets; s.Packets > prev.Packets {
				sum := s.LatencyAvg*time.Duration(s.Packets) - prev.LatencyAvg*time.Duration(prev.Packets)
				m.lat = append(m.lat, weighted{v: sum / time.Duration(n), n: n})
			}
			m.last[r] = s
		}
	}
}

// Summary is what the subscribers received during the window.
type Summary struct {
	Window  time.Duration
	Tracks  int    // tracks received
	Packets uint64 // packets received, duplicates included
	Bytes   uint64 // RTP payload bytes received
	Missing uint64 // sequence numbers never received
	Unique  uint64
	Jitter  []time.Duration // each track's RFC 3550 jitter at the end, sorted
	// LatencyP are the p50 and p99 of the forwarding latency (publisher's
	// send to subscriber's arrival), from the weighted interval means.
	LatencyP [2]time.Duration
}

// Mbps is the payload bit rate received.
func (s Summary) Mbps() float64 { return float64(s.Bytes) * 8 / 1e6 / s.Window.Seconds() }

// PacketRate is the packets received per second.
func (s Summary) PacketRate() float64 { return float64(s.Packets) / s.Window.Seconds() }

// LossPercent is the share of the sequence never received.
func (s Summary) LossPercent() float64 {
	if s.Unique+s.Missing == 0 {
		return 0
	}
	return 100 * float64(s.Missing) / float64(s.Unique+s.Missing)
}

// Stop takes a last sample and closes the window.
func (m *Meter) Stop() Summary {
	m.Sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := Summary{Window: time.Since(m.started)}
	for r, s := range m.last {
		b := m.base[r]
		out.Tracks++
		out.Packets += s.Packets - b.Packets
		out.Bytes += s.Bytes - b.Bytes
		out.Unique += s.Unique - b.Unique
		if s.Missing > b.Missing {
			out.Missing += s.Missing - b.Missing
		}
		out.Jitter = append(out.Jitter, s.Jitter)
	}
	slices.Sort(out.Jitter)
	slices.SortFunc(m.lat, func(a, b weighted) int { return cmp.Compare(a.v, b.v) })
	var total uint64
	for _, w := range m.lat {
		total += w.n
	}
	for i, q := range []float64{0.50, 0.99} {
		target, acc := uint64(q*float64(total)), uint64(0)
		for _, w := range m.lat {
			acc += w.n
			if acc > target {
				out.LatencyP[i] = w.v
				break
			}
		}
	}
	return out
}

// Quantile returns the q-quantile of sorted values, 0 for none.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}
