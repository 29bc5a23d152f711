package sfu

import (
	"sync"
	"time"

	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// downTrack sends one upTrack to one subscriber. Its packets reach it
// through the track's writer it belongs to (writer.go), whose goroutine
// alone calls write and retransmit: they rewrite sequence numbers and
// timestamps so that the subscriber sees one continuous stream across
// layer switches.
type downTrack struct {
	sub    *Participant
	up     *upTrack
	local  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender

	writer atomic.Pointer[writer] // set when added to the track
	once   sync.Once

	current atomic.Int32 // layer being sent, -1 before the first
	target  atomic.Int32 // layer wanted

	// sending state, owned by the writer's goroutine
	started   bool
	seqOffset uint16
	tsOffset  uint32
	lastSeq   uint16
	lastTS    uint32
	lastAt    time.Time
	switchSeq uint16 // first input sequence number of the current layer

	// What each write hands pion, reused: the packet, and room for the
	// one header extension the chain adds (the transport-wide sequence
	// number, stamp.go). pion copies the packet and sends it before
	// WriteRTP returns.
	out rtp.Packet
	ext [1]rtp.Extension
}

// rtcpReadSize is the largest RTCP compound packet a subscriber's track
// reads: pion's receive MTU, which its transport reads no more than.
const rtcpReadSize = 1500

type queued struct {
	layer *layer
	pkt   *rtp.Packet
}

func newDownTrack(sub *Participant, up *upTrack, local *webrtc.TrackLocalStaticRTP, sender *webrtc.RTPSender) *downTrack {
	d := &downTrack{
		sub:    sub,
		up:     up,
		local:  local,
		sender: sender,
	}
	d.current.Store(-1)
	d.target.Store(0)
	return d
}

func (d *downTrack) start() {
	d.sub.sfu.goroutine(d.rtcpLoop)
}

// stop takes the subscriber off the track; the RTCP reader ends with the
// sender.
func (d *downTrack) stop() {
	d.once.Do(func() { d.up.removeSubscriber(d) })
}

// wants reports whether layer l's packets are of use to the subscriber:
// the layer it gets, or the one it waits to switch to.
func (d *downTrack) wants(l *layer) bool {
	i := int32(l.index)
	return i == d.current.Load() || i == d.target.Load()
}

// write sends q if it belongs to the current layer, switching to the
// target layer on its first keyframe. It reports whether it sent.
func (d *downTrack) write(q queued) bool {
	i := int32(q.layer.index)
	cur, target := d.current.Load(), d.target.Load()
	if i != cur {
		if i != target {
			return false
		}
		if cur >= 0 && !isKeyframe(d.up.codec.MimeType, q.pkt) {
			d.up.requestKeyframe(target)
			return false
		}
		d.switchTo(q)
	} else if int16(q.pkt.SequenceNumber-d.switchSeq) < 0 {
		return false // a late packet from before the switch
	}
	h := d.header(q.pkt)
	if !d.started || int16(h.SequenceNumber-d.lastSeq) > 0 {
		d.lastSeq, d.lastTS, d.lastAt = h.SequenceNumber, h.Timestamp, time.Now()
		d.started = true
	}
	return d.send(h, q.pkt.Payload) == nil
}

// send writes one packet to the subscriber.
func (d *downTrack) send(h rtp.Header, payload []byte) error {
	d.out = rtp.Packet{Header: h, Payload: payload}
	err := d.local.WriteRTP(&d.out)
	d.out = rtp.Packet{} // the payload is the layer's, not to be kept
	return err
}

// header is pkt's header as this subscriber gets it: a copy (the packet is
// shared with other subscribers), renumbered, without the publisher's
// header extensions.
func (d *downTrack) header(pkt *rtp.Packet) rtp.Header {
	h := pkt.Header
	h.SequenceNumber += d.seqOffset
	h.Timestamp += d.tsOffset
	h.Extension, h.Extensions, h.ExtensionProfile = false, d.ext[:0], 0
	return h
}

// retransmit resends the packets the subscriber NACKed, from the layer's
// shared cache: those of the current layer sent since the last switch.
func (d *downTrack) retransmit(seqs []uint16) {
	l := d.up.layer(d.current.Load())
	if l == nil || l.cache == nil || !d.started {
		return
	}
	m := d.sub.sfu.metrics
	for _, seq := range seqs {
		if int16(seq-d.lastSeq) > 0 {
			continue // never sent
		}
		in := seq - d.seqOffset
		if int16(in-d.switchSeq) < 0 {
			continue // sent from another layer, before the switch
		}
		pkt := l.cache.get(in)
		if pkt == nil {
			m.retransmits.WithLabelValues("missed").Inc()
			continue
		}
		if d.send(d.header(pkt), pkt.Payload) == nil {
			m.retransmits.WithLabelValues("sent").Inc()
		}
	}
}

// switchTo makes q's layer current, so that q's sequence number follows
// the last one sent and its timestamp follows by the time elapsed.
func (d *downTrack) switchTo(q queued) {
	if d.started {
		d.seqOffset = d.lastSeq + 1 - q.pkt.SequenceNumber
		elapsed := uint32(time.Since(d.lastAt).Seconds()*float64(d.up.codec.ClockRate)) + 1
		d.tsOffset = d.lastTS + elapsed - q.pkt.Timestamp
		d.sub.sfu.metrics.layerMoves.Inc()
	}
	d.switchSeq = q.pkt.SequenceNumber
	d.current.Store(int32(q.layer.index))
}

// rtcpLoop reads the subscriber's RTCP for this track (which also feeds
// the bandwidth estimator), forwards keyframe requests to the publisher,
// notes REMB and hands NACKs to the writer.
//
// It reads into a buffer of its own and takes the packets the interceptors
// below already parsed (the estimator parses each for its feedback):
// pion's ReadRTCP would allocate a buffer and parse them again.
func (d *downTrack) rtcpLoop() {
	buf := make([]byte, rtcpReadSize)
	for {
		n, attrs, err := d.sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := attrs.GetRTCPPackets(buf[:n])
		if err != nil {
			continue // a compound packet that does not parse: nothing in it is used
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.up.requestKeyframe(d.current.Load())
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				d.sub.remb.Store(int64(p.Bitrate))
			case *rtcp.TransportLayerNack:
				var seqs []uint16
				for _, n := range p.Nacks {
					seqs = append(seqs, n.PacketList()...)
				}
				if w := d.writer.Load(); w != nil {
					w.nack(d, seqs)
				}
			}
		}
	}
}

// setTarget asks for layer i, to be switched to on its next keyframe.
func (d *downTrack) setTarget(i int) {
	if d.target.Swap(int32(i)) != int32(i) && int32(i) != d.current.Load() {
		d.up.requestKeyframe(int32(i))
	}
}
