package sfu_test

import (
	"context"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"siteline/media/client"
	"siteline/media/signal"
)

// udpProxy sits between one client's connection (publish or subscribe)
// and the SFU's ICE UDP port. The client talks to front, the SFU to back;
// each side learns only the proxy's address (see proxiedSignaler), so
// every packet of that connection crosses the proxy. It drops a
// deterministic pseudo-random share of the RTP packets going to the SFU
// (loss) or coming from it (lossDown), and
// nothing else: STUN, DTLS and RTCP always pass, so that only media is
// lost.
type udpProxy struct {
	front, back net.PacketConn
	sfu         net.Addr
	loss        float64
	rng         *rand.Rand // used by the front reader only
	lossDown    float64
	rngDown     *rand.Rand // used by the back reader only

	client atomic.Pointer[net.UDPAddr] // the client's address, learnt from its first packet

	rtpUp, droppedUp, otherUp       atomic.Uint64 // client to SFU
	rtpDown, droppedDown, otherDown atomic.Uint64 // SFU to client

	wg sync.WaitGroup
}

// newUDPProxy starts a proxy on 127.0.0.1 in front of sfu, dropping the
// share loss of the client's RTP packets and lossDown of the SFU's, chosen
// by generators seeded with seed.
func newUDPProxy(t *testing.T, sfu net.Addr, loss, lossDown float64, seed uint64) *udpProxy {
	t.Helper()
	listen := func() net.PacketConn {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	p := &udpProxy{front: listen(), back: listen(), sfu: sfu, loss: loss, lossDown: lossDown, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		rngDown: rand.New(rand.NewPCG(seed+1, seed^0x2545f4914f6cdd1d))}
	p.wg.Add(2)
	go p.up()
	go p.down()
	t.Cleanup(func() {
		_ = p.front.Close()
		_ = p.back.Close()
		p.wg.Wait()
	})
	return p
}

// Kinds of datagram on an ICE port, told apart by their first byte as
// RFC 7983 does, and RTCP from RTP by the packet type byte (200-207; an
// RTP payload type there would clash with RTCP, RFC 5761).
const (
	kindOther = iota
	kindSTUN
	kindDTLS
	kindRTP
	kindRTCP
)

func classify(b []byte) int {
	if len(b) == 0 {
		return kindOther
	}
	switch c := b[0]; {
	case c <= 3:
		return kindSTUN
	case c >= 20 && c <= 63:
		return kindDTLS
	case c >= 128 && c <= 191:
		if len(b) >= 2 && b[1] >= 200 && b[1] <= 207 {
			return kindRTCP
		}
		return kindRTP
	}
	return kindOther
}

func (p *udpProxy) up() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := p.front.ReadFrom(buf)
		if err != nil {
			return
		}
		p.client.Store(from.(*net.UDPAddr))
		if classify(buf[:n]) == kindRTP {
			p.rtpUp.Add(1)
			if p.rng.Float64() < p.loss {
				p.droppedUp.Add(1)
				continue
			}
		} else {
			p.otherUp.Add(1)
		}
		_, _ = p.back.WriteTo(buf[:n], p.sfu)
	}
}

func (p *udpProxy) down() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := p.back.ReadFrom(buf)
		if err != nil {
			return
		}
		to := p.client.Load()
		if to == nil {
			continue // the client has not spoken yet; ICE will retry
		}
		if classify(buf[:n]) == kindRTP {
			p.rtpDown.Add(1)
			if p.rngDown.Float64() < p.lossDown {
				p.droppedDown.Add(1)
				continue
			}
		} else {
			p.otherDown.Add(1)
		}
		_, _ = p.front.WriteTo(buf[:n], to)
	}
}

// proxiedSignaler is a loopback whose candidates for one connection
// (target) are rewritten in both directions: the SFU's UDP candidates
// reach the client as the proxy's front address, the client's reach the
// SFU as the proxy's back address. The SFU's ICE-TCP candidates are
// dropped, so that the client has no way around the proxy. The other
// connection's candidates pass untouched.
type proxiedSignaler struct {
	*loopback
	front, back string // host:port
	target      signal.Target
}

func (s *proxiedSignaler) Send(ctx context.Context, m signal.Message) error {
	if m.Type == signal.TypeCandidate && m.Target == s.target && m.Candidate != nil {
		c := *m.Candidate
		c.Candidate, _ = rewriteCandidate(c.Candidate, s.back)
		m.Candidate = &c
	}
	if m.Target == s.target && m.SDP != "" {
		m.SDP = rewriteSDP(m.SDP, s.back)
	}
	return s.loopback.Send(ctx, m)
}

func (s *proxiedSignaler) Recv(ctx context.Context) (signal.Message, error) {
	for {
		m, err := s.loopback.Recv(ctx)
		if err != nil {
			return m, err
		}
		if m.Type == signal.TypeCandidate && m.Target == s.target && m.Candidate != nil && m.Candidate.Candidate != "" {
			c := *m.Candidate
			var ok bool
			if c.Candidate, ok = rewriteCandidate(c.Candidate, s.front); !ok {
				continue
			}
			m.Candidate = &c
		}
		if m.Target == s.target && m.SDP != "" {
			m.SDP = rewriteSDP(m.SDP, s.front)
		}
		return m, nil
	}
}

// rewriteCandidate gives a UDP candidate the address to; it reports false
// for a candidate of another transport, which should be dropped.
func rewriteCandidate(cand, to string) (string, bool) {
	f := strings.Fields(cand)
	if len(f) < 8 || !strings.EqualFold(f[2], "udp") {
		return cand, false
	}
	host, port, err := net.SplitHostPort(to)
	if err != nil {
		return cand, false
	}
	f[4], f[5] = host, port
	return strings.Join(f, " "), true
}

// rewriteSDP rewrites the candidate lines of a description (pion may put
// the candidates gathered so far in it) and drops the non-UDP ones.
func rewriteSDP(sdp, to string) string {
	lines := strings.Split(sdp, "\r\n")
	out := lines[:0]
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "a="); ok && strings.HasPrefix(rest, "candidate:") {
			c, ok := rewriteCandidate(rest, to)
			if !ok {
				continue
			}
			l = "a=" + c
		}
		out = append(out, l)
	}
	return strings.Join(out, "\r\n")
}

// connectVia connects a new client as user whose publish connection goes
// through p.
func (h *harness) connectVia(user string, p *udpProxy) *client.Client {
	return h.connectConnVia(user, p, signal.TargetPublish)
}

// connectConnVia connects a new client as user whose target connection
// goes through p.
func (h *harness) connectConnVia(user string, p *udpProxy, target signal.Target) *client.Client {
	h.t.Helper()
	sig := &proxiedSignaler{loopback: newLoopback(h.sfu, user),
		front: p.front.LocalAddr().String(), back: p.back.LocalAddr().String(), target: target}
	c, err := client.New(client.Config{Name: user, LoopbackOnly: true, Logger: testLogger()}, sig)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

// metricWith sums the samples (counters or gauges) of the named series
// whose label has value.
func (h *harness) metricWith(name, label, value string) float64 {
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != label || l.GetValue() != value {
					continue
				}
				if m.Counter != nil {
					total += m.Counter.GetValue()
				}
				if m.Gauge != nil {
					total += m.Gauge.GetValue()
				}
			}
		}
	}
	return total
}

func TestClassify(t *testing.T) {
	tests := []struct {
		b    []byte
		want int
	}{
		{[]byte{0x00, 0x01}, kindSTUN},     // binding request
		{[]byte{0x01, 0x01}, kindSTUN},     // binding success
		{[]byte{22, 0xfe, 0xfd}, kindDTLS}, // handshake
		{[]byte{23, 0xfe, 0xfd}, kindDTLS}, // application data (SCTP)
		{[]byte{0x80, 96}, kindRTP},        // VP8, no marker
		{[]byte{0x80, 96 | 0x80}, kindRTP}, // VP8, marker
		{[]byte{0x80, 111}, kindRTP},       // Opus
		{[]byte{0x80, 200}, kindRTCP},      // SR
		{[]byte{0x81, 201}, kindRTCP},      // RR
		{[]byte{0x8f, 205}, kindRTCP},      // transport feedback (NACK, TWCC)
		{[]byte{0x81, 206}, kindRTCP},      // PLI, REMB
		{nil, kindOther},
	}
	for _, tt := range tests {
		if got := classify(tt.b); got != tt.want {
			t.Errorf("classify(% x) = %d, want %d", tt.b, got, tt.want)
		}
	}
	if c, ok := rewriteCandidate("candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", "127.0.0.1:5"); !ok || c != "candidate:1 1 udp 2130706431 127.0.0.1 5 typ host" {
		t.Errorf("rewriteCandidate = %q %v", c, ok)
	}
	if _, ok := rewriteCandidate("candidate:2 1 tcp 1671430143 127.0.0.1 40001 typ host tcptype passive", "127.0.0.1:"+strconv.Itoa(5)); ok {
		t.Error("a TCP candidate was kept")
	}
}
