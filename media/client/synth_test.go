package client

import (
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	for name, p := range map[string][]byte{
		"vp8 key":   vp8Payload(true, true, 200, now),
		"vp8 inter": vp8Payload(true, false, 200, now),
		"vp8 cont":  vp8Payload(false, false, 200, now),
		"opus":      opusPayload(100, now),
	} {
		got, ok := stamp(p)
		if !ok || !got.Equal(now) {
			t.Errorf("%s: stamp = %v %v, want %v", name, got, ok, now)
		}
	}
	if p := vp8Payload(true, true, 200, now); p[0] != 0x10 || p[1]&1 != 0 || p[4] != 0x9d {
		t.Errorf("vp8 keyframe header wrong: % x", p[:8])
	}
	if _, ok := stamp([]byte{1, 2, 3}); ok {
		t.Error("stamp found in a payload without one")
	}
}

func TestReceivedCountsGapsAndDuplicates(t *testing.T) {
	r := &Received{seen: make(map[uint64]bool), clockRate: 90000}
	now := time.Now()
	for i, seq := range []uint16{65534, 65535, 1, 2, 0, 2} { // wraps, 0 late, 2 twice
		r.add(seq, uint32(i)*3000, nil, now.Add(time.Duration(i)*33*time.Millisecond))
	}
	s := r.Stats()
	if s.Packets != 6 || s.Unique != 5 || s.Duplicates != 1 || s.Missing != 0 {
		t.Errorf("stats = %+v", s)
	}
	r.add(5, 20000, nil, now.Add(time.Second)) // 3 and 4 missing
	if s := r.Stats(); s.Missing != 2 {
		t.Errorf("missing = %d, want 2", s.Missing)
	}
}

func TestLayerSwitchOnKeyframe(t *testing.T) {
	r := &Received{seen: make(map[uint64]bool), clockRate: 90000}
	r.stats.LastLayer = -1
	now := time.Now()
	r.add(1, 0, vp8LayerPayload(true, true, 100, now, 0), now)
	r.add(2, 0, vp8LayerPayload(false, true, 100, now, 0), now)
	r.add(3, 3000, vp8LayerPayload(true, true, 100, now, 2), now)   // switch on a keyframe
	r.add(4, 6000, vp8LayerPayload(true, false, 100, now, 1), now)  // switch on an inter frame
	r.add(5, 6000, vp8LayerPayload(false, false, 100, now, 0), now) // switch mid-frame
	s := r.Stats()
	if s.LayerSwitches != 3 || s.BadSwitches != 2 || s.LastLayer != 0 {
		t.Errorf("switches %d, bad %d, last layer %d; want 3, 2, 0", s.LayerSwitches, s.BadSwitches, s.LastLayer)
	}
	if s.Layers != [MaxLayers]uint64{3, 1, 1, 0} {
		t.Errorf("layers = %v", s.Layers)
	}
}
