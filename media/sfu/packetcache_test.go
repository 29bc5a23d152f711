package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestPacketCacheKeepsOneSecond: a layer's cache answers for the packets
// of the last second and lets go of older ones, at a low rate (where a
// second is far fewer packets than the ring holds) and across the wrap of
// the sequence numbers; at a high rate the ring's size bounds it.
func TestPacketCacheKeepsOneSecond(t *testing.T) {
	start := time.Unix(1000, 0)
	put := func(c *packetCache, seq uint16, at time.Duration) {
		c.put(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq}}, start.Add(at))
	}
	kept := func(c *packetCache) int {
		n := 0
		for _, p := range c.pkts {
			if p != nil {
				n++
			}
		}
		return n
	}

	// 60 packets a second for two seconds, numbered across the wrap.
	var c packetCache
	first := uint16(65500)
	for i := range 120 {
		put(&c, first+uint16(i), time.Duration(i)*time.Second/60)
	}
	last := first + 119
	if c.get(last) == nil || c.get(last-59) == nil {
		t.Error("a packet of the last second is gone")
	}
	if c.get(last-61) != nil || c.get(first) != nil {
		t.Error("a packet older than a second is still kept")
	}
	if n := kept(&c); n < 59 || n > 61 {
		t.Errorf("%d packets kept at 60 a second, want about 60", n)
	}

	// 1,000 packets a second: the ring's 512 are the bound.
	var fast packetCache
	for i := range 1000 {
		put(&fast, uint16(i), time.Duration(i)*time.Millisecond)
	}
	if fast.get(999) == nil || fast.get(999-cacheSize+1) == nil || fast.get(999-cacheSize) != nil {
		t.Errorf("at 1,000 packets a second the cache does not keep the last %d", cacheSize)
	}
}
