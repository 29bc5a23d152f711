package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

// cacheSize is the most packets a video layer keeps for retransmission,
// and cacheAge how long it keeps each: one second of repair, several
// round trips, whatever the rate (512 packets is one second at about 4
// Mbit/s). Each packet holds the buffer pion read it into, so a layer at
// a few hundred kbit/s keeps a second's worth (60 packets or so), not
// eight.
const (
	cacheSize = 512
	cacheAge  = time.Second
)

// packetCache keeps a published layer's last packets so that the SFU can
// answer any subscriber's NACK from one shared copy, instead of each
// subscriber's connection keeping its own copy of everything it sent.
// Packets are not changed once read: subscribers copy the header they
// rewrite.
type packetCache struct {
	mu      sync.Mutex
	pkts    [cacheSize]*rtp.Packet
	at      [cacheSize]time.Time // when each was put
	started bool
	oldest  uint16 // sequence number of the oldest packet that may be kept
}

// put keeps p, received at now, and lets go of the packets older than
// cacheAge, oldest first.
func (c *packetCache) put(p *rtp.Packet, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := p.SequenceNumber % cacheSize
	c.pkts[i], c.at[i] = p, now
	if !c.started {
		c.started, c.oldest = true, p.SequenceNumber
		return
	}
	for range cacheSize {
		if c.oldest == p.SequenceNumber {
			return
		}
		j := c.oldest % cacheSize
		if c.pkts[j] != nil && c.pkts[j].SequenceNumber == c.oldest && now.Sub(c.at[j]) < cacheAge {
			return
		}
		if c.pkts[j] != nil && c.pkts[j].SequenceNumber == c.oldest {
			c.pkts[j] = nil
		}
		c.oldest++
	}
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
