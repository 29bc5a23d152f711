package sfu

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// fakeEstimator records what the lazy estimator hands it.
type fakeEstimator struct {
	streams  atomic.Int64 // streams added
	through  atomic.Int64 // packets recorded
	rtcp     atomic.Int64 // RTCP packets given
	closed   atomic.Bool
	onChange func(int)
}

func (f *fakeEstimator) AddStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	f.streams.Add(1)
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		f.through.Add(1)
		return w.Write(h, payload, a)
	})
}

func (f *fakeEstimator) WriteRTCP(pkts []rtcp.Packet, _ interceptor.Attributes) error {
	f.rtcp.Add(int64(len(pkts)))
	return nil
}
func (f *fakeEstimator) GetTargetBitrate() int                      { return 250_000 }
func (f *fakeEstimator) OnTargetBitrateChange(fn func(bitrate int)) { f.onChange = fn }
func (f *fakeEstimator) GetStats() map[string]any                   { return map[string]any{"fake": true} }
func (f *fakeEstimator) Close() error                               { f.closed.Store(true); return nil }

// TestLazyEstimatorIsBuiltByItsFirstPacket: a subscribe connection's
// estimator does not exist until a packet is sent through it; before, it
// answers as a fresh estimator would and passes packets on. Built, it has
// every stream, the callback and the feedback, and it stays built.
func TestLazyEstimatorIsBuiltByItsFirstPacket(t *testing.T) {
	var builds atomic.Int64
	fake := &fakeEstimator{}
	e := newLazyEstimator(initialEstimate, func() (cc.BandwidthEstimator, error) {
		builds.Add(1)
		return fake, nil
	})
	sinkA, sinkB := &sentSeqs{id: 3}, &sentSeqs{id: 3}
	a := e.AddStream(twccStream(1, 3), sinkA)
	e.OnTargetBitrateChange(func(int) {})
	if err := e.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerCC{}}, nil); err != nil {
		t.Fatal(err)
	}
	if builds.Load() != 0 || fake.rtcp.Load() != 0 {
		t.Fatalf("before any packet: %d builds, %d RTCP packets given; want none", builds.Load(), fake.rtcp.Load())
	}
	if got := e.GetTargetBitrate(); got != initialEstimate {
		t.Errorf("estimate before the build = %d, want the initial %d", got, initialEstimate)
	}
	if st := e.GetStats(); len(st) != 0 {
		t.Errorf("stats before the build = %v, want none", st)
	}

	for range 3 {
		if _, err := a.Write(&rtp.Header{Version: 2}, []byte{1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	b := e.AddStream(twccStream(2, 3), sinkB)
	if _, err := b.Write(&rtp.Header{Version: 2}, []byte{1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerCC{}}, nil); err != nil {
		t.Fatal(err)
	}
	if builds.Load() != 1 {
		t.Errorf("built %d times, want once", builds.Load())
	}
	if fake.streams.Load() != 2 || fake.through.Load() != 4 || fake.rtcp.Load() != 1 {
		t.Errorf("estimator has %d streams, %d packets, %d RTCP packets; want 2, 4, 1",
			fake.streams.Load(), fake.through.Load(), fake.rtcp.Load())
	}
	if len(sinkA.attrs) != 3 || len(sinkB.attrs) != 1 {
		t.Errorf("sent %d and %d packets, want 3 and 1", len(sinkA.attrs), len(sinkB.attrs))
	}
	if fake.onChange == nil {
		t.Error("the callback set before the build did not reach the estimator")
	}
	if got := e.GetTargetBitrate(); got != 250_000 {
		t.Errorf("estimate once built = %d, want the estimator's 250000", got)
	}
	if err := e.Close(); err != nil || !fake.closed.Load() {
		t.Errorf("close: %v, estimator closed %v", err, fake.closed.Load())
	}
}

// TestLazyEstimatorNeverBuilt: a connection closed without a packet for
// its estimator never builds one, and one whose build fails still sends.
func TestLazyEstimatorNeverBuilt(t *testing.T) {
	var builds atomic.Int64
	e := newLazyEstimator(initialEstimate, func() (cc.BandwidthEstimator, error) {
		builds.Add(1)
		return &fakeEstimator{}, nil
	})
	w := e.AddStream(twccStream(1, 3), &sentSeqs{id: 3})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(&rtp.Header{Version: 2}, []byte{1}, nil); err != nil {
		t.Fatal(err)
	}
	if builds.Load() != 0 {
		t.Errorf("a closed connection built its estimator")
	}

	failing := newLazyEstimator(initialEstimate, func() (cc.BandwidthEstimator, error) {
		builds.Add(1)
		return nil, errors.New("no estimator")
	})
	sink := &sentSeqs{id: 3}
	w = failing.AddStream(twccStream(1, 3), sink)
	for range 2 {
		if _, err := w.Write(&rtp.Header{Version: 2}, []byte{1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if builds.Load() != 1 || len(sink.attrs) != 2 {
		t.Errorf("failed build: %d attempts, %d packets sent; want 1 and 2", builds.Load(), len(sink.attrs))
	}
	if got := failing.GetTargetBitrate(); got != initialEstimate {
		t.Errorf("estimate after a failed build = %d, want %d", got, initialEstimate)
	}
}
