package sfu

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// stampFactory makes, for each subscribe connection, the interceptor that
// writes the transport-wide sequence number into every packet of its
// streams that negotiated it: what pion's twcc.HeaderExtensionInterceptor
// does, without its allocations per packet and subscriber (the
// extension's two bytes, and the attributes map the bandwidth estimator
// makes when given none). It is the outermost writer of the chain, so the
// estimator and the sender reports below see the number.
type stampFactory struct{}

func (stampFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &stamper{}, nil
}

// stamper numbers the packets of one connection: the sequence is the
// transport's, shared by its streams.
type stamper struct {
	interceptor.NoOp
	next atomic.Uint32
}

func (s *stamper) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI && e.ID > 0 && e.ID < 15 {
			return &stampedStream{id: uint8(e.ID), next: &s.next, w: w, attrs: interceptor.Attributes{}}
		}
	}
	return w
}

// stampedStream is one stream's writer. Its buffers serve one write at a
// time, which is how the SFU writes a stream (one writer goroutine per
// subscriber track); a write that finds them in use by another gets its
// own.
type stampedStream struct {
	id   uint8
	next *atomic.Uint32
	w    interceptor.RTPWriter

	busy  atomic.Bool
	ext   [2]byte
	attrs interceptor.Attributes
}

func (s *stampedStream) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	seq := uint16(s.next.Add(1) - 1)
	if !s.busy.CompareAndSwap(false, true) {
		if a == nil {
			a = interceptor.Attributes{}
		}
		return s.write(h, payload, a, binary.BigEndian.AppendUint16(nil, seq))
	}
	defer s.busy.Store(false)
	if a == nil {
		// The estimator below sets the extension's id in it: given none, it
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
	return s.w.Write(h, payload, a)
}
