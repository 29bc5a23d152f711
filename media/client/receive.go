package client

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Received is a track the client receives, with its statistics.
type Received struct {
	ID          string // the SFU's track id
	Participant string // the publisher's participant id (the stream id)
	Kind        string
	ssrc        uint32

	numbered atomic.Uint64 // packets with a transport-wide sequence number

	mu    sync.Mutex
	stats TrackStats
	seen  map[uint64]bool // extended sequence numbers received
	ext   uint64          // highest extended sequence number
	start bool
	first time.Time
	// jitter (RFC 3550) state
	lastTransit float64
	clockRate   float64
	latencySum  time.Duration
}

// TrackStats are the counts of one received track.
type TrackStats struct {
	Packets    uint64        // packets received, duplicates included
	Unique     uint64        // distinct sequence numbers received
	Duplicates uint64        // packets received twice (retransmissions that crossed)
	Missing    uint64        // sequence numbers between the first and the last never received
	FirstAt    time.Time     // arrival of the first packet
	LastAt     time.Time     // arrival of the last packet
	Jitter     time.Duration // interarrival jitter, RFC 3550
	LatencyAvg time.Duration // mean delay from the publisher's send to arrival
	LatencyMax time.Duration
	Bytes      uint64
	// Layers counts the distinct packets by the simulcast layer that sent
	// them, as the synthetic payload names it (0 without simulcast).
	Layers [MaxLayers]uint64
	// LastLayer is the layer of the last new packet, -1 before one.
	LastLayer int
	// LayerSwitches counts the changes of layer between one newest
	// packet and the next; BadSwitches those of them whose first packet
	// does not start a keyframe (a VP8 one, as the synthetic tracks send).
	LayerSwitches, BadSwitches uint64
	// Numbered counts the packets that carried a transport-wide sequence
	// number: those the sender asks feedback on for its bandwidth
	// estimate.
	Numbered uint64
}

// Rate returns the unique packets per second between the first and the
// last arrival.
func (s TrackStats) Rate() float64 {
	d := s.LastAt.Sub(s.FirstAt).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(s.Unique-1) / d
}

// Stats returns a snapshot of the track's counts.
func (r *Received) Stats() TrackStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Numbered = r.numbered.Load()
	if r.start {
		span := r.ext - r.firstExt() + 1
		s.Missing = span - s.Unique
	}
	if s.Unique > 0 {
		s.LatencyAvg = r.latencySum / time.Duration(s.Packets)
	}
	return s
}

func (r *Received) firstExt() uint64 {
	lowest := r.ext
	for e := range r.seen {
		if e < lowest {
			lowest = e
		}
	}
	return lowest
}

// Tracks returns the tracks received so far.
func (c *Client) Tracks() []*Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Received, 0, len(c.tracks))
	for _, t := range c.tracks {
		out = append(out, t)
	}
	return out
}

// SendREMB tells the SFU, with a REMB naming every track received, that
// the client can take bps bits per second, as a browser's receive-side
// estimate would.
func (c *Client) SendREMB(bps float32) error {
	c.mu.Lock()
	ssrcs := make([]uint32, 0, len(c.tracks))
	for _, t := range c.tracks {
		ssrcs = append(ssrcs, t.ssrc)
	}
	c.mu.Unlock()
	if err := c.down.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: bps, SSRCs: ssrcs}}); err != nil {
		return fmt.Errorf("send remb: %w", err)
	}
	return nil
}

// Track returns the received track with the SFU's id, or nil.
func (c *Client) Track(id string) *Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracks[id]
}

func (c *Client) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	r := &Received{
		ID: remote.ID(), Participant: remote.StreamID(), Kind: remote.Kind().String(), ssrc: uint32(remote.SSRC()),
		seen: make(map[uint64]bool), clockRate: float64(remote.Codec().ClockRate),
	}
	r.stats.LastLayer = -1
	c.log.Debug("receiving track", "id", r.ID, "participant", r.Participant, "kind", r.Kind)
	c.mu.Lock()
	c.tracks[r.ID] = r
	c.mu.Unlock()
	c.wg.Add(2)
	go func() { // drain RTCP so that the interceptors see it
		defer c.wg.Done()
		for {
			if _, _, err := recv.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	var twcc uint8
	for _, e := range recv.GetParameters().HeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			twcc = uint8(e.ID)
		}
	}
	go func() {
		defer c.wg.Done()
		if remote.Kind() == webrtc.RTPCodecTypeVideo {
			_ = c.down.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(remote.SSRC())}})
		}
		for {
			pkt, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			if twcc != 0 && len(pkt.GetExtension(twcc)) == 2 {
				r.numbered.Add(1)
			}
			r.add(pkt.SequenceNumber, pkt.Timestamp, pkt.Payload, time.Now())
		}
	}()
}

// add counts one packet.
func (r *Received) add(seq uint16, ts uint32, payload []byte, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.stats
	s.Packets++
	s.Bytes += uint64(len(payload))
	var ext uint64
	if !r.start {
		r.start = true
		ext = 1<<32 + uint64(seq) // room below for packets that arrive late
		r.ext = ext
		s.FirstAt = now
	} else {
		diff := int16(seq - uint16(r.ext))
		ext = uint64(int64(r.ext) + int64(diff))
		if ext > r.ext {
			r.ext = ext
		}
	}
	dup := r.seen[ext]
	if dup {
		s.Duplicates++
	} else {
		r.seen[ext] = true
		s.Unique++
	}
	s.LastAt = now
	sent, layer, ok := readStamp(payload)
	if ok && !dup && layer < MaxLayers {
		s.Layers[layer]++
		if ext == r.ext { // the newest packet, not a late one
			if s.LastLayer >= 0 && layer != s.LastLayer {
				s.LayerSwitches++
				if !vp8KeyframeStart(payload) {
					s.BadSwitches++
				}
			}
			s.LastLayer = layer
		}
	}
	if ok {
		d := now.Sub(sent)
		r.latencySum += d
		if d > s.LatencyMax {
			s.LatencyMax = d
		}
	}
	if r.clockRate > 0 {
		transit := now.Sub(r.first).Seconds()*r.clockRate - float64(ts)
		if r.first.IsZero() {
			r.first = now
			transit = -float64(ts)
		} else if s.Packets > 1 {
			d := transit - r.lastTransit
			if d < 0 {
				d = -d
			}
			j := float64(s.Jitter) / float64(time.Second) * r.clockRate
			j += (d - j) / 16
			s.Jitter = time.Duration(j / r.clockRate * float64(time.Second))
		}
		r.lastTransit = transit
	}
}

// vp8KeyframeStart reports whether a VP8 payload with a one-byte
// descriptor (as the synthetic tracks send) starts a keyframe.
func vp8KeyframeStart(b []byte) bool {
	return len(b) >= 2 && b[0]&0x10 != 0 && b[0]&0x0f == 0 && b[1]&0x01 == 0
}
