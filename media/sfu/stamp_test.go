package sfu

import (
	"encoding/binary"
	"slices"
	"sync"
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

// TestStampNumbersTheConnectionsPackets: the packets of every stream of a
// connection carry one transport-wide sequence, in the extension id each
// stream negotiated, and the estimator below gets attributes to read it
// from; a stream without the extension is left as it is.
func TestStampNumbersTheConnectionsPackets(t *testing.T) {
	i, err := stampFactory{}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
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
	i, err := stampFactory{}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
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
