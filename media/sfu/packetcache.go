package sfu

import (
	"sync"

	"github.com/pion/rtp"
)

// cacheSize is the number of packets a video layer keeps for
// retransmission: at 500 packets/s (about 4 Mbit/s) that is one second,
// several round trips of repair.
const cacheSize = 512

// packetCache keeps a published layer's last packets so that the SFU can
// answer any subscriber's NACK from one shared copy, instead of each
// subscriber's connection keeping its own copy of everything it sent.
// Packets are not changed once read: subscribers copy the header they
// rewrite.
type packetCache struct {
	mu   sync.Mutex
	pkts [cacheSize]*rtp.Packet
}

func (c *packetCache) put(p *rtp.Packet) {
	c.mu.Lock()
	c.pkts[p.SequenceNumber%cacheSize] = p
	c.mu.Unlock()
}

// get returns the packet with sequence number seq, or nil if it is gone
// or never came.
func (c *packetCache) get(seq uint16) *rtp.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pkts[seq%cacheSize]
	if p == nil || p.SequenceNumber != seq {
		return nil
	}
	return p
}
