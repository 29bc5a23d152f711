package udpbatch

// Group is the sockets of one ICE mux, one per local address: a writer
// about to send one packet to each of a track's subscribers holds them
// all, since its subscribers may be reached through any of them.
type Group []*Conn

// Hold holds every socket of the group (Conn.Hold).
func (g Group) Hold() {
	for _, c := range g {
		c.Hold()
	}
}

// Release releases every socket of the group (Conn.Release).
func (g Group) Release() {
	for _, c := range g {
		c.Release()
	}
}

// Dropped is the sum of the sockets' Dropped.
func (g Group) Dropped() uint64 {
	var n uint64
	for _, c := range g {
		n += c.Dropped()
	}
	return n
}

// Batches is the sum of the sockets' Batches.
func (g Group) Batches() (batches, datagrams uint64) {
	for _, c := range g {
		b, d := c.Batches()
		batches, datagrams = batches+b, datagrams+d
	}
	return batches, datagrams
}
