package sfu

import (
	"math"
	"sync/atomic"

	"github.com/pion/rtp"

	"siteline/media/internal/udpbatch"
)

// A writer is one goroutine that sends an upTrack's packets to a few of
// its subscribers, one after the other. With a goroutine per subscriber,
// every packet woke as many goroutines as there were subscribers, and the
// scheduler cost as much as the sending; with writers, a track with n
// subscribers wakes about √n goroutines (at least writerMin subscribers
// share one), which still spreads the sending over the cores.
//
// A downTrack belongs to one writer for its whole life, so its sending
// state (sequence and timestamp offsets, layer switch) has one owner. A
// subscriber whose sends block (ICE over a stalled TCP connection) holds
// up its writer's others until the queue fills and packets are dropped, as
// before it held up only itself: the price of fewer goroutines, kept small
// by the small groups.

// writerMin is the least number of subscribers a writer takes before the
// track starts another.
const writerMin = 4

// writerSize is how many subscribers each writer of a track with n takes.
func writerSize(n int) int {
	return max(writerMin, int(math.Ceil(math.Sqrt(float64(n)))))
}

type writer struct {
	t     *upTrack
	queue chan queued
	nacks chan nackJob
	done  chan struct{}

	members atomic.Pointer[[]*downTrack] // copy on write, under t.mu
}

// nackJob is a subscriber's request to resend the packets it lost.
type nackJob struct {
	d    *downTrack
	seqs []uint16
}

func newWriter(t *upTrack) *writer {
	w := &writer{
		t:     t,
		queue: make(chan queued, t.owner.sfu.cfg.QueueSize),
		nacks: make(chan nackJob, 16),
		done:  make(chan struct{}),
	}
	w.members.Store(&[]*downTrack{})
	t.owner.sfu.goroutine(w.loop)
	return w
}

func (w *writer) size() int { return len(*w.members.Load()) }

// add and remove change the members; the caller holds t.mu.
func (w *writer) add(d *downTrack) {
	old := *w.members.Load()
	next := make([]*downTrack, 0, len(old)+1)
	next = append(append(next, old...), d)
	w.members.Store(&next)
}

func (w *writer) remove(d *downTrack) bool {
	old := *w.members.Load()
	next := make([]*downTrack, 0, len(old))
	found := false
	for _, o := range old {
		if o == d {
			found = true
			continue
		}
		next = append(next, o)
	}
	w.members.Store(&next)
	return found
}

// stop ends the goroutine; the caller holds t.mu and has removed the
// writer from the track.
func (w *writer) stop() { close(w.done) }

// push queues pkt of layer l for the members that want it, without
// blocking: when the queue is full the packet is dropped for all of them.
func (w *writer) push(l *layer, pkt *rtp.Packet) {
	members := *w.members.Load()
	wanted := 0
	for _, d := range members {
		if d.wants(l) {
			wanted++
		}
	}
	if wanted == 0 {
		return
	}
	select {
	case w.queue <- queued{l, pkt}:
	default:
		w.t.owner.sfu.metrics.dropped.Add(float64(wanted))
	}
}

// nack hands a member's lost sequence numbers to the goroutine; when it
// is behind they are dropped and the subscriber asks again.
func (w *writer) nack(d *downTrack, seqs []uint16) {
	select {
	case w.nacks <- nackJob{d, seqs}:
	default:
	}
}

func (w *writer) loop() {
	m := w.t.owner.sfu.metrics
	out := m.bytes.WithLabelValues("out")
	pkts := m.packets.WithLabelValues("out")
	// The packets of one pass, to every member, leave the shared UDP
	// socket together, with one sendmmsg, when every member is reached
	// over UDP: a Hold queues the others' writes to the socket too, and a
	// write to a stalled TCP connection must not keep them waiting.
	udp := w.t.owner.sfu.batchedConn()
	hold := func() udpbatch.Group {
		if udp == nil {
			return nil
		}
		for _, d := range *w.members.Load() {
			if !d.sub.overUDP.Load() {
				return nil
			}
		}
		udp.Hold()
		return udp
	}
	send := func(q queued) {
		sent := 0
		for _, d := range *w.members.Load() {
			if d.write(q) {
				sent++
			}
		}
		if sent > 0 {
			out.Add(float64(sent * q.pkt.MarshalSize()))
			pkts.Add(float64(sent))
		}
	}
	for {
		select {
		case <-w.done:
			return
		case q := <-w.queue:
			held := hold()
			send(q)
			for range len(w.queue) { // and those that came meanwhile
				send(<-w.queue)
			}
			held.Release()
		case j := <-w.nacks:
			held := hold()
			j.d.retransmit(j.seqs)
			held.Release()
		}
	}
}
