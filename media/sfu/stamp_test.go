package sfu

import (
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// sentSeqs is a writer at the end of the chain: it keeps the
// transport-wide sequence numbers it is given, read from the marshalled
// packet as a receiver would.
type sentSeqs struct {
	mu    sync.Mutex
	id    uint8
	seqs  []uint16
	attrs []interceptor.Attributes
}

func (s *sentSeqs) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	b, err := (&rtp.Packet{Header: *h, Payload: payload}).Marshal()
	if err != nil {
		return 0, err
	}
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	ext := p.GetExtension(s.id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ext) == 2 {
		s.seqs = append(s.seqs, binary.BigEndian.Uint16(ext))
	}
	s.attrs = append(s.attrs, a)
	return len(b), nil
}

func twccStream(ssrc uint32, id int) *interceptor.StreamInfo {
	return &interceptor.StreamInfo{SSRC: ssrc, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: id}}}
}

// estimatorFactory stands for pion's cc interceptor: each stream's writer
// counts the packets that went through it before passing them on.
type estimatorFactory struct{ through *atomic.Int64 }

func (f estimatorFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &estimatorStub{through: f.through}, nil
}

type estimatorStub struct {
	interceptor.NoOp
	through *atomic.Int64
}

func (e *estimatorStub) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		e.through.Add(1)
		return w.Write(h, payload, a)
	})
}

// newStamper is a connection's stamping interceptor over a counting
// estimator, with the estimation on or off.
func newStamper(t *testing.T, on bool) (interceptor.Interceptor, *sendSide, *atomic.Int64) {
	t.Helper()
	side, through := &sendSide{}, &atomic.Int64{}
	side.setOn(on)
	i, err := stampFactory{side: side, est: estimatorFactory{through}}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	return i, side, through
}

// TestStampNumbersTheConnectionsPackets: the packets of every stream of a
// connection carry one transport-wide sequence, in the extension id each
// stream negotiated, and the estimator gets them with attributes to read
// it from; a stream without the extension is left as it is.
func TestStampNumbersTheConnectionsPackets(t *testing.T) {
	i, _, through := newStamper(t, true)
	sinkA, sinkB := &sentSeqs{id: 3}, &sentSeqs{id: 5}
	a := i.BindLocalStream(twccStream(1, 3), sinkA)
	b := i.BindLocalStream(twccStream(2, 5), sinkB)
	plain := &sentSeqs{id: 3}
	if w := i.BindLocalStream(&interceptor.StreamInfo{SSRC: 3}, plain); w != interceptor.RTPWriter(plain) {
		t.Errorf("a stream without transport-wide CC got a writer of its own: %T", w)
	}
	var ext [1]rtp.Extension
	for n := range 6 {
		w := a
		if n%3 == 2 {
			w = b
		}
		h := rtp.Header{Version: 2, SequenceNumber: uint16(100 + n), Extensions: ext[:0]}
		if _, err := w.Write(&h, []byte{1, 2, 3}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := sinkA.seqs, []uint16{0, 1, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("stream A's transport-wide numbers = %v, want %v", got, want)
	}
	if got, want := sinkB.seqs, []uint16{2, 5}; !slices.Equal(got, want) {
		t.Errorf("stream B's transport-wide numbers = %v, want %v", got, want)
	}
	for _, a := range append(sinkA.attrs, sinkB.attrs...) {
		if a == nil {
			t.Fatal("a packet reached the estimator without attributes: it would make a map per packet")
		}
	}
	if through.Load() != 6 {
		t.Errorf("%d packets went through the estimator, want 6", through.Load())
	}

	// A write allocates nothing once the stream's buffers exist.
	var sink countWriter
	w := i.BindLocalStream(twccStream(4, 3), &sink)
	h := rtp.Header{Version: 2}
	payload := []byte{1, 2, 3}
	allocs := testing.AllocsPerRun(200, func() {
		h.Extension, h.Extensions = false, ext[:0]
		if _, err := w.Write(&h, payload, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || sink.n != 201 {
		t.Errorf("a stamped write allocates %.1f times (%d written), want 0", allocs, sink.n)
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(_ *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	a.Set("seen", true) // as the estimator sets its key
	c.n++
	return len(payload), nil
}

// TestStampConcurrentWritesKeepTheirNumbers: two goroutines writing one
// stream at once each send the number they drew, not the other's.
func TestStampConcurrentWritesKeepTheirNumbers(t *testing.T) {
	i, _, _ := newStamper(t, true)
	sink := &sentSeqs{id: 3}
	w := i.BindLocalStream(twccStream(1, 3), sink)
	const each = 500
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				h := rtp.Header{Version: 2}
				if _, err := w.Write(&h, []byte{1}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := make(map[uint16]bool)
	for _, s := range sink.seqs {
		seen[s] = true
	}
	if len(sink.seqs) != 2*each || len(seen) != 2*each {
		t.Errorf("%d packets sent with %d distinct numbers, want %d of each", len(sink.seqs), len(seen), 2*each)
	}
}

// TestStampOffSkipsTheEstimator: while the estimation is off, packets
// leave unnumbered (the subscriber then sends no feedback on them) and
// never reach the estimator; turned on, the sequence carries on without a
// gap, which the subscriber would report as loss.
func TestStampOffSkipsTheEstimator(t *testing.T) {
	i, side, through := newStamper(t, false)
	sink := &sentSeqs{id: 3}
	w := i.BindLocalStream(twccStream(1, 3), sink)
	send := func(n int) {
		t.Helper()
		for range n {
			h := rtp.Header{Version: 2}
			if _, err := w.Write(&h, []byte{1}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(3)
	if len(sink.attrs) != 3 || len(sink.seqs) != 0 || through.Load() != 0 {
		t.Fatalf("off: %d packets sent, %d numbered, %d through the estimator; want 3, 0, 0",
			len(sink.attrs), len(sink.seqs), through.Load())
	}
	if got := side.estimate(); got != 0 {
		t.Errorf("off: estimate = %d, want 0", got)
	}
	if !side.setOn(true) || side.setOn(true) {
		t.Error("setOn does not report the change alone")
	}
	send(2)
	side.setOn(false)
	send(1)
	side.setOn(true)
	send(2)
	if got, want := sink.seqs, []uint16{0, 1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("numbers while on = %v, want %v", got, want)
	}
	if len(sink.attrs) != 8 || through.Load() != 4 {
		t.Errorf("%d packets sent, %d through the estimator; want 8 and 4", len(sink.attrs), through.Load())
	}
}
