package sfu

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// sendSide is a subscribe connection's send-side bandwidth estimation: the
// transport-wide sequence number written into its video packets, and the
// estimator (GCC) that reads the subscriber's feedback on them.
//
// Its one use is the choice of simulcast layers (layers.go), so it runs
// only while the subscriber receives a simulcast track (on). Off, packets
// leave unnumbered and skip the estimator: the subscriber then sends no
// transport-wide feedback, and the SFU neither records every packet sent
// nor digests feedback on it. A call from the browser publishes one layer
// per track, so most subscribers never turn it on. The sequence carries on
// from where it stopped when it is turned on again, and the estimator
// resumes from its last estimate, lowered by REMB as before.
type sendSide struct {
	on   atomic.Bool
	next atomic.Uint32
	bwe  cc.BandwidthEstimator // set when the connection is built
}

// setOn turns the estimation on or off; it reports whether that changed it.
func (s *sendSide) setOn(on bool) bool { return s.on.Swap(on) != on }

// estimate returns the estimator's target bit rate, or 0 while off or
// before it exists.
func (s *sendSide) estimate() int64 {
	if s == nil || s.bwe == nil || !s.on.Load() {
		return 0
	}
	return int64(s.bwe.GetTargetBitrate())
}

// stampFactory makes, for one subscribe connection, the interceptor that
// holds the estimator (est, pion's cc interceptor in the node) and, while
// side is on, numbers each packet of the streams that negotiated the
// transport-wide sequence number before the estimator records it: what
// pion's twcc.HeaderExtensionInterceptor does, without its allocations per
// packet and subscriber (the extension's two bytes, and the attributes map
// the estimator makes when given none). It is the outermost writer of the
// chain, so the sender reports below see the packets either way.
type stampFactory struct {
	side *sendSide
	est  interceptor.Factory
}

func (f stampFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := f.est.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &stamper{Interceptor: i, side: f.side}, nil
}

// stamper is the estimator's interceptor with the streams' writers chosen
// per packet; its other methods are the estimator's.
type stamper struct {
	interceptor.Interceptor
	side *sendSide
}

// BindLocalStream gives a stream that negotiated the transport-wide
// sequence number a writer that goes through the estimator while it is
// on, and straight below it while off. The estimator refuses a packet
// without the number, so a stream that did not negotiate it never reaches
// it: such a subscriber's estimate comes from REMB or LimitBitrate.
func (s *stamper) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI && e.ID > 0 && e.ID < 15 {
			return &stampedStream{
				id:    uint8(e.ID),
				side:  s.side,
				est:   s.Interceptor.BindLocalStream(info, w),
				plain: w,
				attrs: interceptor.Attributes{},
			}
		}
	}
	return w
}

// stampedStream is one stream's writer. Its buffers serve one write at a
// time, which is how the SFU writes a stream (one writer goroutine per
// subscriber track); a write that finds them in use by another gets its
// own.
type stampedStream struct {
	id    uint8
	side  *sendSide
	est   interceptor.RTPWriter // through the estimator
	plain interceptor.RTPWriter // below it

	busy  atomic.Bool
	ext   [2]byte
	attrs interceptor.Attributes
}

func (s *stampedStream) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	if !s.side.on.Load() {
		return s.plain.Write(h, payload, a)
	}
	seq := uint16(s.side.next.Add(1) - 1)
	if !s.busy.CompareAndSwap(false, true) {
		if a == nil {
			a = interceptor.Attributes{}
		}
		return s.write(h, payload, a, binary.BigEndian.AppendUint16(nil, seq))
	}
	defer s.busy.Store(false)
	if a == nil {
		// The estimator sets the extension's id in it: given none, it
		// makes a map per packet. Emptied of what was set for the last one.
		clear(s.attrs)
		a = s.attrs
	}
	binary.BigEndian.PutUint16(s.ext[:], seq)
	return s.write(h, payload, a, s.ext[:])
}

func (s *stampedStream) write(h *rtp.Header, payload []byte, a interceptor.Attributes, ext []byte) (int, error) {
	if err := h.SetExtension(s.id, ext); err != nil {
		return 0, err
	}
	return s.est.Write(h, payload, a)
}
