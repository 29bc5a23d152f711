package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// lazyEstimator is a subscribe connection's send-side estimator (pion's
// GCC), built the first time the connection sends a packet through it,
// that is once its estimation is on (sendSide) and a packet is numbered
// for it. Most subscribers never turn it on, and a GCC estimator starts
// two goroutines and its records when built, whether or not a packet ever
// reaches it.
//
// Until it is built it stands for an estimator that has seen nothing: its
// estimate is the initial bit rate, and the RTCP it is given is dropped,
// which is what the estimator does with anything but transport-wide
// feedback, and a subscriber whose estimation is off sends none. Once
// built it stays, so that the estimate resumes where it was when the
// estimation is turned off and on again.
type lazyEstimator struct {
	build   func() (cc.BandwidthEstimator, error)
	initial int

	bwe atomic.Pointer[builtEstimator]

	mu       sync.Mutex // guards what follows, and building
	streams  []*lazyStream
	onChange func(int)
	closed   bool
	err      error // the build's, kept: a failed build is not retried
}

// builtEstimator boxes the estimator for the atomic pointer.
type builtEstimator struct{ cc.BandwidthEstimator }

var _ cc.BandwidthEstimator = (*lazyEstimator)(nil)

func newLazyEstimator(initial int, build func() (cc.BandwidthEstimator, error)) *lazyEstimator {
	return &lazyEstimator{build: build, initial: initial}
}

// built returns the estimator, or nil before it is built.
func (e *lazyEstimator) built() cc.BandwidthEstimator {
	if b := e.bwe.Load(); b != nil {
		return b.BandwidthEstimator
	}
	return nil
}

// start builds the estimator, once, and gives it every stream added so
// far. A build that fails leaves the packets unrecorded and the estimate
// at its initial value.
func (e *lazyEstimator) start() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.err != nil || e.bwe.Load() != nil {
		return
	}
	bwe, err := e.build()
	if err != nil {
		e.err = err
		return
	}
	if e.onChange != nil {
		bwe.OnTargetBitrateChange(e.onChange)
	}
	for _, s := range e.streams {
		s.bind(bwe)
	}
	e.bwe.Store(&builtEstimator{bwe})
}

// AddStream returns a writer that goes through the estimator once it is
// built, and straight to w before.
func (e *lazyEstimator) AddStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s := &lazyStream{e: e, info: info, plain: w}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.streams = append(e.streams, s)
	if bwe := e.built(); bwe != nil {
		s.bind(bwe)
	}
	return s
}

func (e *lazyEstimator) WriteRTCP(pkts []rtcp.Packet, a interceptor.Attributes) error {
	if bwe := e.built(); bwe != nil {
		return bwe.WriteRTCP(pkts, a)
	}
	return nil
}

func (e *lazyEstimator) GetTargetBitrate() int {
	if bwe := e.built(); bwe != nil {
		return bwe.GetTargetBitrate()
	}
	return e.initial
}

func (e *lazyEstimator) OnTargetBitrateChange(f func(bitrate int)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onChange = f
	if bwe := e.built(); bwe != nil {
		bwe.OnTargetBitrateChange(f)
	}
}

func (e *lazyEstimator) GetStats() map[string]any {
	if bwe := e.built(); bwe != nil {
		return bwe.GetStats()
	}
	return map[string]any{}
}

func (e *lazyEstimator) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if bwe := e.built(); bwe != nil {
		return bwe.Close()
	}
	return nil
}

// lazyStream is one stream's writer into a lazyEstimator.
type lazyStream struct {
	e     *lazyEstimator
	info  *interceptor.StreamInfo
	plain interceptor.RTPWriter
	est   atomic.Pointer[boundWriter] // the estimator's writer, once built
}

type boundWriter struct{ interceptor.RTPWriter }

// bind gives the stream to the built estimator; under e.mu.
func (s *lazyStream) bind(bwe cc.BandwidthEstimator) {
	s.est.Store(&boundWriter{bwe.AddStream(s.info, s.plain)})
}

func (s *lazyStream) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	w := s.est.Load()
	if w == nil {
		s.e.start()
		if w = s.est.Load(); w == nil {
			return s.plain.Write(h, payload, a)
		}
	}
	return w.Write(h, payload, a)
}
