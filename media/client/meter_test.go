package client

import (
	"testing"
	"time"
)

func TestMeterWindow(t *testing.T) {
	r := &Received{ID: "v", Kind: "video", seen: map[uint64]bool{}, clockRate: 90000}
	c := &Client{tracks: map[string]*Received{"v": r}}
	t0 := time.Unix(1000, 0)
	send := func(seq uint16, sent time.Time, delay time.Duration) {
		r.add(seq, uint32(seq)*3000, vp8Payload(true, false, 100, sent), sent.Add(delay))
	}
	send(1, t0, time.Millisecond) // before the window: not counted
	m := NewMeter([]*Client{c})
	m.Start()
	for i := range 10 {
		send(uint16(2+i), t0.Add(time.Duration(i)*time.Millisecond), time.Millisecond)
	}
	m.Sample()
	for i := range 5 { // sequence 12 is lost
		send(uint16(13+i), t0.Add(time.Duration(20+i)*time.Millisecond), 9*time.Millisecond)
	}
	s := m.Stop()
	if s.Tracks != 1 || s.Packets != 15 || s.Unique != 15 || s.Missing != 1 || s.Bytes != 1500 {
		t.Fatalf("summary = %+v", s)
	}
	if s.LatencyP[0] != time.Millisecond || s.LatencyP[1] != 9*time.Millisecond {
		t.Fatalf("latency p50/p99 = %v/%v, want 1ms/9ms", s.LatencyP[0], s.LatencyP[1])
	}
	if got := s.LossPercent(); got < 6.2 || got > 6.3 {
		t.Fatalf("loss = %.2f%%, want 1/16", got)
	}
}

func TestQuantile(t *testing.T) {
	v := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.5, 5}, {0.99, 9}, {1, 10}} {
		if got := Quantile(v, tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if Quantile(nil, 0.5) != 0 {
		t.Error("Quantile of nothing is not 0")
	}
}
