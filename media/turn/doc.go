// Package turn is the node's embedded TURN relay, built on pion/turn v5 (the
// TURN line pion/webrtc v4 itself uses, so the binary holds one TURN library).
//
// A Server listens on UDP, TCP and TLS (each optional), authenticates
// clients with TURN REST style short-lived credentials minted by the node per
// call and user (username "<unix-expiry>:<org>:<call>:<user>", a Grant,
// password base64(HMAC-SHA1(secret, username)), as coturn's use-auth-secret
// and browsers' RTCIceServer expect), limits live allocations per user
// across calls, per organisation and in total, filters the peers the relay
// may reach, and exports metrics on the node's own prometheus registry.
//
// # Credentials
//
// The expiry of a username bounds the allocations it can make (ten minutes
// by default; clients fetch new credentials before then). The requests
// that keep an allocation going (Refresh, CreatePermission, ChannelBind,
// Connect) are accepted with the credentials that made it, expired or not,
// as long as Config.CheckGrant accepts their grant: the node answers
// whether the call is still open and the user still active. CheckGrant is
// asked on every authenticated request and, every RecheckInterval, for the
// grants of the live allocations; a refused grant's allocations are closed
// (closing a relay socket makes pion delete its allocation). Revoke closes
// matching allocations at once, as the node does when a call ends.
//
// # Peer filtering
//
// pion/turn allows every peer unless told otherwise, which is how coturn's
// CVE-2020-26262 (0.0.0.0 and [::] reaching loopback) and the IPv4-mapped
// IPv6 bypasses (::ffff:127.0.0.1) happened. Every address is normalised
// with netip's Unmap before any check, and the relay refuses loopback,
// unspecified (0.0.0.0/8, ::), link-local, multicast, broadcast,
// carrier-grade NAT (100.64/10), the other special-purpose blocks of the
// IANA IPv4 and IPv6 registries (192.0.0.0/24, documentation, benchmarking
// 198.18.0.0/15, 240.0.0.0/4, 2001::/23, 2001:db8::/32, 3fff::/20,
// 5f00::/16, deprecated site-local and relays), IPv6 forms that embed an
// IPv4 address (IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and /48,
// 6to4 2002::/16, judged by the address they embed), the node's own
// addresses (its relay, bind and listener addresses and those of its
// interfaces), and private
// ranges (10/8, 172.16/12, 192.168/16, fc00::/7) unless Config.AllowedPeers
// covers them. Config.AllowedPeerAddrs lists exact host:port pairs that UDP
// relays may reach even when their range is not (the node's own SFU ICE
// UDP port); Config.AllowedTCPPeerAddrs does the same for TCP relays (RFC
// 6062). The lists are kept apart because one number is often two
// services: the node's HTTPS port over TCP was its media port over UDP.
//
// The checks sit at two levels because pion/turn v5 offers two hooks:
//
//   - its PermissionHandler sees only the peer IP of CreatePermission,
//     ChannelBind and Connect requests. It refuses an address that no rule
//     could ever allow, so the client gets a 403 at once. An IP that appears
//     in AllowedPeerAddrs passes this gate, since a permission carries no
//     port.
//   - port-level rules are enforced on the relay sockets themselves. The
//     Server hands pion a RelayAddressGenerator of its own that wraps pion's
//     port-range (or static) generator and returns wrapped sockets: the
//     relay net.PacketConn drops WriteTo to a disallowed host:port (covering
//     both Send indications and ChannelData, which all end in the
//     allocation's WriteTo) and discards datagrams read from a disallowed
//     source, so a process on an allowed IP but another port can neither be
//     reached nor answer; the TCP relay listener (RFC 6062) closes inbound
//     connections from disallowed peers, and AllocateConn refuses to dial
//     them. pion's Send and ChannelData paths have no other hook that sees
//     the port, and the socket is the one place every relayed byte passes,
//     so it is also where the relayed byte and packet counters live.
//
// # Quotas
//
// Quotas are counted per Grant.User across every call (a user opening call
// after call gets no more), per Grant.Org and in total.
// pion's QuotaHandler runs before an allocation is made and lets the server
// answer 486 (Allocation Quota Reached); it checks the live counts without
// reserving, because pion has no callback when an allocation fails after
// it (a LIFETIME of 0, for one, fails later and would leak a reservation).
// The authoritative count is kept by the relay address generator instead: a
// slot is taken when a relay socket is created for the user and given back
// when that socket is closed, which pion does on every path that ends an
// allocation (expiry, Refresh with lifetime 0, TCP connection close,
// shutdown). Two concurrent Allocate requests that both pass the
// QuotaHandler are thus still held to the limit (the loser gets a 508).
//
// # The event loop
//
// On Linux the UDP listener, the connections of plain TCP clients and the
// relay sockets of both kinds of clients' allocations are read by one
// event loop of the relay's own (epoll, level-triggered; loop_linux.go,
// tcp_linux.go) with recvmmsg and read, not by a goroutine per socket.
// Once a client has bound a channel, the loop relays its ChannelData
// itself, both ways, where it was read (channel.go): each such allocation
// keeps a copy of its channel bindings, kept by pion's channel events, and
// what the loop relays leaves with one sendmmsg per destination socket
// (one sendmsg per TCP connection) once its batch is worked through.
// Everything else reaches pion's read loops as before: through ReadFrom,
// one datagram at a time, or through a TCP connection's Read, one frame at
// a time; pion's writes go to the sockets at once. A queued datagram the
// system refuses, or a frame a TCP client's backed-up connection has no
// room for, is counted in siteline_turn_send_failures_total, since pion
// never sees the error. TLS clients' connections and their allocations'
// relay sockets, and every socket on other systems, are read by pion
// alone.
//
// # Lifecycle
//
// New validates the configuration and registers metrics; Start opens the
// listeners and starts pion's server; Shutdown refuses new allocations,
// closes the listeners and every client TCP/TLS connection, and waits until
// every relay socket is closed or the context ends. pion's logs go to the
// configured slog.Logger; pion's Info level, which it uses for
// per-request detail, is logged at Debug.
package turn
