//go:build linux

package turn

import (
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system's side of the event loop (loop_linux.go): socket addresses
// as the kernel takes and gives them, recvmmsg into a batch, and the send
// queues that leave with sendmmsg, runs to one destination as UDP GSO
// messages.

// sockaddr is a socket address as sendmmsg takes it.
type sockaddr struct {
	raw unix.RawSockaddrInet6 // an IPv4 address fills its RawSockaddrInet4 prefix
	len uint32                // 0: no address (the family did not fit the socket)
}

// makeSockaddr returns ap as a socket of family sends to it: IPv4 as
// IPv4-mapped IPv6 for an IPv6 (dual-stack) socket, a zone as the scope
// (an interface number, as addrPortOfRaw reads it, or name). ok is false
// when an IPv4 socket cannot reach ap or the zone names no interface.
func makeSockaddr(ap netip.AddrPort, family int) (sa sockaddr, ok bool) {
	port := ap.Port()
	if family == unix.AF_INET {
		a := ap.Addr().Unmap()
		if !a.Is4() {
			return sockaddr{}, false
		}
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa.raw))
		p.Family = unix.AF_INET
		putPort(&p.Port, port)
		p.Addr = a.As4()
		sa.len = unix.SizeofSockaddrInet4
		return sa, true
	}
	sa.raw.Family = unix.AF_INET6
	putPort(&sa.raw.Port, port)
	sa.raw.Addr = ap.Addr().As16()
	if zone := ap.Addr().Zone(); zone != "" {
		id, err := strconv.ParseUint(zone, 10, 32)
		if err != nil {
			ifi, err := net.InterfaceByName(zone)
			if err != nil {
				return sockaddr{}, false
			}
			id = uint64(ifi.Index) //nolint:gosec // an interface index is positive
		}
		sa.raw.Scope_id = uint32(id)
	}
	sa.len = unix.SizeofSockaddrInet6
	return sa, true
}

// putPort stores port in network byte order in a sockaddr's port field.
func putPort(field *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(field))
	b[0], b[1] = byte(port>>8), byte(port)
}

// addrPortOfRaw decodes a received socket address; ok is false for a
// family that is not IP.
func addrPortOfRaw(raw *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	port := func(field *uint16) uint16 {
		b := (*[2]byte)(unsafe.Pointer(field))
		return uint16(b[0])<<8 | uint16(b[1])
	}
	switch raw.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), port(&p.Port)), true
	case unix.AF_INET6:
		a := netip.AddrFrom16(raw.Addr)
		if raw.Scope_id != 0 { // a link-local sender: replies need its interface
			a = a.WithZone(strconv.FormatUint(uint64(raw.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, port(&raw.Port)), true
	}
	return netip.AddrPort{}, false
}

// recvBatch is the room one recvmmsg reads into. Slot i keeps chanHeader
// bytes before the datagram and as many after it (channel.go's slotSize).
type recvBatch struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	slots [][]byte
}

func newRecvBatch(size int) recvBatch {
	b := recvBatch{
		msgs:  make([]unix.Mmsghdr, size),
		iovs:  make([]unix.Iovec, size),
		names: make([]unix.RawSockaddrInet6, size),
		slots: make([][]byte, size),
	}
	buf := make([]byte, size*slotSize)
	for i := range b.msgs {
		b.slots[i] = buf[i*slotSize : (i+1)*slotSize : (i+1)*slotSize]
		b.iovs[i].Base = &b.slots[i][chanHeader]
		b.iovs[i].SetLen(batchBufSize)
		b.msgs[i].Hdr.Iov = &b.iovs[i]
		b.msgs[i].Hdr.SetIovlen(1)
		b.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	return b
}

// read reads what fd holds, up to a batch, without waiting; 0 when it
// holds nothing or fails.
func (b *recvBatch) read(fd int) int {
	for i := range b.msgs {
		b.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.msgs[i].Hdr.Flags = 0
	}
	for {
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd),
			uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(len(b.msgs)), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0 // EAGAIN, or an error the next read reports again
		}
		return int(r)
	}
}

// frame returns datagram i with the chanHeader bytes of room before it;
// the room after it is within the slice's capacity.
func (b *recvBatch) frame(i int) []byte {
	return b.slots[i][:chanHeader+int(b.msgs[i].Len)]
}

// UDP GSO (UDP_SEGMENT) bounds: the kernel's UDP_MAX_SEGMENTS per
// message, and a message's data within one IPv4 UDP datagram's.
const (
	gsoSegments = 64
	gsoMaxBytes = 65507
)

// gsoCtrlSpace is the room of a UDP_SEGMENT control message.
var gsoCtrlSpace = unix.CmsgSpace(2)

// sendQueue is a socket's datagrams waiting for sendmmsg: one message per
// datagram (msgs), and the messages sent, runs of datagrams to one
// destination (out).
type sendQueue struct {
	msgs []unix.Mmsghdr
	iovs []unix.Iovec
	n    int

	out  []unix.Mmsghdr
	runs []run
	ctrl []byte // out[i]'s UDP_SEGMENT control message at i*gsoCtrlSpace
}

// run is the queued datagrams an out message carries: n from start.
type run struct{ start, n int }

func newSendQueue(size int) sendQueue {
	q := sendQueue{
		msgs: make([]unix.Mmsghdr, size), iovs: make([]unix.Iovec, size),
		out: make([]unix.Mmsghdr, size), runs: make([]run, size),
		ctrl: make([]byte, size*gsoCtrlSpace),
	}
	for i := range q.msgs {
		q.msgs[i].Hdr.Iov = &q.iovs[i]
		q.msgs[i].Hdr.SetIovlen(1)
		c := q.ctrl[i*gsoCtrlSpace:]
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
	}
	return q
}

func (q *sendQueue) add(b []byte, sa *sockaddr) {
	q.iovs[q.n].Base = unsafe.SliceData(b)
	q.iovs[q.n].SetLen(len(b))
	m := &q.msgs[q.n].Hdr
	m.Name = (*byte)(unsafe.Pointer(&sa.raw))
	m.Namelen = sa.len
	q.n++
}

// group fills out with the queued datagrams and returns how many messages
// it made: consecutive datagrams to one destination (the same sockaddr)
// and of one size, the last of a run possibly shorter, share a message
// of up to maxRun, its segment size in a UDP_SEGMENT control message.
func (q *sendQueue) group(maxRun int) int {
	k := 0
	for i := 0; i < q.n; k++ {
		size := q.iovs[i].Len
		total := size
		j := i + 1
		for j < q.n && j-i < maxRun && size > 0 && q.msgs[j].Hdr.Name == q.msgs[i].Hdr.Name {
			l := q.iovs[j].Len
			if l > size || total+l > gsoMaxBytes {
				break
			}
			total += l
			j++
			if l < size {
				break // only a run's last datagram may be shorter
			}
		}
		m := &q.out[k].Hdr
		m.Name, m.Namelen = q.msgs[i].Hdr.Name, q.msgs[i].Hdr.Namelen
		m.Iov = &q.iovs[i]
		m.SetIovlen(j - i)
		m.Control = nil
		m.SetControllen(0)
		if j-i > 1 {
			c := q.ctrl[k*gsoCtrlSpace : (k+1)*gsoCtrlSpace]
			*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16(size) //nolint:gosec // size <= batchBufSize
			m.Control = &c[0]
			m.SetControllen(gsoCtrlSpace)
		}
		q.runs[k] = run{start: i, n: j - i}
		i = j
	}
	return k
}

// reset forgets the queued datagrams and the k messages sent, which point
// into the read batch and the channel tables.
func (q *sendQueue) reset(k int) {
	for i := range q.msgs[:q.n] {
		q.iovs[i].Base = nil
		q.msgs[i].Hdr.Name = nil
	}
	for i := range q.out[:k] {
		q.out[i].Hdr.Name = nil
		q.out[i].Hdr.Iov = nil
		q.out[i].Hdr.Control = nil
	}
	q.n = 0
}

// sendmmsg sends msgs without waiting and returns how many left.
func sendmmsg(fd int, msgs []unix.Mmsghdr) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// sendto sends one datagram without waiting.
func sendto(fd int, p []byte, sa *sockaddr) error {
	var base unsafe.Pointer
	if len(p) > 0 {
		base = unsafe.Pointer(&p[0])
	}
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(base), uintptr(len(p)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa.raw)), uintptr(sa.len))
	if errno != 0 {
		return errno
	}
	return nil
}
