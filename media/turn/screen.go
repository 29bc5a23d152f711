package turn

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v4"
)

// pion/turn decides a ChannelBind by the peer's IP alone (its
// PermissionHandler gets no port) and answers a refusal with 401, where
// RFC 8656 §12 asks for 403 Forbidden: a bind to a refused port of an
// allowed IP succeeded and then dropped every datagram, and a bind to a
// refused IP looked like bad credentials. The screen below sits between
// the client's socket and pion: an authenticated ChannelBind request whose
// peer address the filter refuses, port included, is answered 403 here and
// never reaches pion. Everything else passes untouched.

// connectionBindRequest is the type of an RFC 6062 ConnectionBind
// request: method 0x00B, class request.
const connectionBindRequest = 0x000b

// stunHeaderSize is the 20 bytes of a STUN header (RFC 5389 §6).
const stunHeaderSize = 20

// screen is what a listener's connections consult.
type screen struct {
	s    *Server
	deps *relayDeps
}

// refusal returns the 403 answer to raw when it is an authenticated
// ChannelBind request to a peer the relay refuses, and nil for any other
// message (pion answers those, unauthenticated ones with its 401).
func (sc *screen) refusal(raw []byte) []byte {
	const channelBindRequest = 0x0009 // method 0x009, class request
	if len(raw) < stunHeaderSize || binary.BigEndian.Uint16(raw[0:2]) != channelBindRequest {
		return nil
	}
	m := &stun.Message{Raw: append([]byte(nil), raw...)}
	if err := m.Decode(); err != nil {
		return nil
	}
	var (
		username stun.Username
		realm    stun.Realm
		peer     stun.XORMappedAddress
	)
	if username.GetFrom(m) != nil || realm.GetFrom(m) != nil || peer.GetFromAs(m, stun.AttrXORPeerAddress) != nil {
		return nil
	}
	key, ok := sc.s.key(username.String(), realm.String(), stun.MethodChannelBind)
	if !ok {
		return nil
	}
	integrity := stun.MessageIntegrity(key)
	if integrity.Check(m) != nil {
		return nil
	}
	ip, ok := netip.AddrFromSlice(peer.IP)
	if !ok || peer.Port < 0 || peer.Port > 0xffff {
		return nil
	}
	reason := sc.deps.filter.checkUDP(netip.AddrPortFrom(ip, uint16(peer.Port)))
	if reason == "" {
		return nil
	}
	sc.deps.refusePeer(stagePermission, reason, &net.UDPAddr{IP: peer.IP, Port: peer.Port})
	resp, err := stun.Build(&stun.Message{TransactionID: m.TransactionID},
		stun.NewType(stun.MethodChannelBind, stun.ClassErrorResponse),
		&stun.ErrorCodeAttribute{Code: stun.CodeForbidden, Reason: []byte("Forbidden")},
		integrity, stun.Fingerprint)
	if err != nil {
		return nil
	}
	return resp.Raw
}

// screenedPacketConn is the UDP listener as pion reads and writes it.
type screenedPacketConn struct {
	net.PacketConn
	sc *screen
}

// ReadFrom returns the next datagram for pion, a refused ChannelBind
// answered here. In the event loop, ChannelData on a bound channel has
// been relayed without pion already (channel.go).
func (c *screenedPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if resp := c.sc.refusal(p[:n]); resp != nil {
			_, _ = c.PacketConn.WriteTo(resp, addr)
			continue
		}
		return n, addr, nil
	}
}

// screenedListener hands pion TCP or TLS connections whose reads are
// screened frame by frame.
type screenedListener struct {
	net.Listener
	sc *screen
}

func (l *screenedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &screenedConn{Conn: c, sc: l.sc, r: bufio.NewReaderSize(c, 4096)}, nil
}

// screenedConn splits the stream into STUN messages and ChannelData
// frames (RFC 8656 §12.5: padded to four bytes over TCP), holds back the
// refused ChannelBind requests and passes the rest on whole.
type screenedConn struct {
	net.Conn
	sc      *screen
	r       *bufio.Reader
	pending []byte
	shaken  bool       // the TLS handshake is done
	raw     bool       // a data connection after ConnectionBind: no more frames
	rmu     sync.Mutex // guards the reader and the fields above
	wmu     sync.Mutex // a refusal and pion's own answers do not interleave
}

// Read is safe for concurrent use, as a net.Conn's is: after a
// ConnectionBind pion copies the data connection in a goroutine of its own
// and, once the copy ends, its read loop reads the connection once more
// while that goroutine may still be inside a read.
func (c *screenedConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if tc, ok := c.Conn.(*tls.Conn); ok && !c.shaken {
		// pion bounds the handshake of the *tls.Conn it can see; this
		// one it cannot, so the bound is kept here.
		c.shaken = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return 0, err
		}
	}
	for len(c.pending) == 0 {
		if c.raw {
			return c.r.Read(p)
		}
		frame, err := c.readFrame()
		if err != nil {
			return 0, err
		}
		if resp := c.sc.refusal(frame); resp != nil {
			if _, err := c.Write(resp); err != nil {
				return 0, err
			}
			continue
		}
		c.pending = frame
		// After a ConnectionBind (RFC 6062 §4.4) the connection carries
		// the peer's bytes, unframed.
		c.raw = isConnectionBind(frame)
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *screenedConn) readFrame() ([]byte, error) {
	head, err := c.r.Peek(4)
	if err != nil {
		return nil, err
	}
	frame := make([]byte, frameSize(head))
	if _, err := io.ReadFull(c.r, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

// frameSize is the size of the frame a stream's next four bytes, head,
// begin: a STUN message, or a ChannelData frame padded to four bytes
// (anything not STUN is taken for one, as pion takes it).
func frameSize(head []byte) int {
	length := int(binary.BigEndian.Uint16(head[2:4]))
	if head[0]&0xc0 != 0 {
		return (chanHeader + length + 3) &^ 3
	}
	return length + stunHeaderSize // STUN: the length excludes the header
}

// isConnectionBind reports whether frame is a ConnectionBind request,
// after which a connection carries a peer's bytes, unframed.
func isConnectionBind(frame []byte) bool {
	return len(frame) >= 2 && binary.BigEndian.Uint16(frame[0:2]) == connectionBindRequest
}

func (c *screenedConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(p)
}
