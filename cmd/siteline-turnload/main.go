// Command siteline-turnload loads a TURN server over UDP (or TCP, -tcp)
// until it saturates
// and reports what it relayed and, given the server's PID, the server's CPU
// per relayed packet.
//
// It opens -n allocations, each with its own client socket (a UDP socket,
// or with -tcp a TCP connection), binds a channel
// from each to a UDP echo peer and sends -size byte datagrams through them
// for -duration, either as fast as a window of -window datagrams in flight
// per allocation allows (-rate 0) or at -rate datagrams/s in all. Every
// datagram is relayed twice: client to peer, and the echo back.
// Credentials follow the TURN REST scheme: username "<expiry>:<user>",
// password base64(HMAC-SHA1(secret, username)).
//
// The echo peer runs in this process unless -echo=false (coturn's
// turnutils_peer will do). -serve runs Siteline's relay instead, as the
// node does (media/turn), on UDP and TCP, allowing the echo peer's port
// and the next as its only peers (turnutils_uclient, which can load it
// over TCP, binds both):
//
//	siteline-turnload -serve 127.0.0.1:3478 -secret $SECRET -peer 127.0.0.1:3480 &
//	siteline-turnload -server 127.0.0.1:3478 -secret $SECRET -peer 127.0.0.1:3480 \
//	    -n 8 -size 200 -duration 10s -pid $!
//
// Output: datagrams sent, received back, loss, relayed packets/s (twice the
// datagrams received back per second), and with -pid the server's CPU
// seconds over the run (utime+stime from /proc/PID/stat) and relayed packets
// per core-second.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST credentials are HMAC-SHA1 by definition.
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	siteturn "siteline/media/turn"
)

func main() {
	var (
		server   = flag.String("server", "127.0.0.1:3478", "TURN server")
		overTCP  = flag.Bool("tcp", false, "reach the server over TCP (RFC 8656 §12.5 framing) instead of UDP")
		secret   = flag.String("secret", "", "TURN REST shared secret")
		realm    = flag.String("realm", "siteline", "TURN realm")
		user     = flag.String("user", "load:bench", "user part of the username; allocation i appends \":<i>\"")
		peer     = flag.String("peer", "127.0.0.1:3480", "UDP echo peer")
		echo     = flag.Bool("echo", true, "run the echo peer on -peer in this process")
		n        = flag.Int("n", 8, "allocations, each with its own sender")
		size     = flag.Int("size", 200, "payload bytes per datagram")
		rate     = flag.Int("rate", 0, "datagrams/s sent in all; 0 sends as fast as the window allows")
		window   = flag.Int("window", 32, "datagrams in flight per allocation")
		duration = flag.Duration("duration", 10*time.Second, "how long to send")
		pid      = flag.Int("pid", 0, "server PID whose CPU time to report")
		serve    = flag.String("serve", "", "run Siteline's relay on this address (UDP and TCP) instead of loading one")
		profile  = flag.String("cpuprofile", "", "with -serve: write the relay's CPU profile to this file when it stops")
	)
	flag.Parse()
	if *secret == "" {
		log.Fatal("-secret is required")
	}
	peerAddr, err := netip.ParseAddrPort(*peer)
	if err != nil {
		log.Fatalf("-peer: %v", err)
	}
	if *serve != "" {
		if err := serveRelay(*serve, *secret, *realm, peerAddr, *profile); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *echo {
		if err := runEcho(peerAddr); err != nil {
			log.Fatal(err)
		}
	}
	l := &load{
		server: *server, realm: *realm, secret: *secret, peer: net.UDPAddrFromAddrPort(peerAddr),
		size: *size, window: *window, tcp: *overTCP,
	}
	if *rate > 0 {
		l.interval = time.Duration(float64(time.Second) * float64(*n) / float64(*rate))
	}
	if err := l.run(*user, *n, *duration, *pid); err != nil {
		log.Fatal(err)
	}
}

// credentials returns TURN REST credentials valid for an hour.
func credentials(secret, user string) (username, password string) {
	username = strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username)) //nolint:errcheck // hash writes do not fail
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type load struct {
	server, realm, secret string
	peer                  *net.UDPAddr
	size, window          int
	tcp                   bool          // clients over TCP
	interval              time.Duration // between two datagrams of one sender; 0: unpaced

	sent, received, writtenOff atomic.Int64
}

func (l *load) run(user string, n int, duration time.Duration, pid int) error {
	relays := make([]net.PacketConn, 0, n)
	for i := 0; i < n; i++ {
		relay, err := l.allocate(user + ":" + strconv.Itoa(i))
		if err != nil {
			return fmt.Errorf("allocation %d: %w", i, err)
		}
		relays = append(relays, relay)
	}

	cpu0, err := cpuSeconds(pid)
	if err != nil {
		return err
	}
	start := time.Now()
	stop := start.Add(duration)
	var wg sync.WaitGroup
	for _, relay := range relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.send(relay, stop)
		}()
	}
	wg.Wait()
	// Let the last replies come back before reading the clock and the CPU:
	// what is still missing then is lost.
	time.Sleep(200 * time.Millisecond)
	elapsed := time.Since(start)
	cpu1, err := cpuSeconds(pid)
	if err != nil {
		return err
	}
	for _, relay := range relays {
		_ = relay.Close()
	}

	sent, got := l.sent.Load(), l.received.Load()
	relayed := 2 * float64(got)
	fmt.Printf("allocations %d, payload %d B, %s\n", n, l.size, elapsed.Round(time.Millisecond))
	fmt.Printf("sent %d, received %d, loss %.2f%%\n", sent, got, 100*float64(sent-got)/float64(max(sent, 1)))
	fmt.Printf("relayed %.0f packets/s\n", relayed/elapsed.Seconds())
	if pid != 0 {
		cpu := cpu1 - cpu0
		fmt.Printf("server cpu %.2f s (%.0f%% of a core), %.0f relayed packets per core-second\n",
			cpu, 100*cpu/elapsed.Seconds(), relayed/cpu)
	}
	return nil
}

// allocate opens a client and an allocation with its channel bound to the
// peer: pion binds the channel on the first datagram sent, so one round
// trip is made before the clock starts.
func (l *load) allocate(user string) (net.PacketConn, error) {
	var conn net.PacketConn
	if l.tcp {
		c, err := net.Dial("tcp4", l.server)
		if err != nil {
			return nil, err
		}
		conn = turn.NewSTUNConn(c)
	} else {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		conn = c
	}
	username, password := credentials(l.secret, user)
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: l.server,
		TURNServerAddr: l.server,
		Conn:           conn,
		Username:       username,
		Password:       password,
		Realm:          l.realm,
		LoggerFactory:  quietLogs{},
	})
	if err != nil {
		return nil, err
	}
	if err := client.Listen(); err != nil {
		return nil, err
	}
	relay, err := client.Allocate()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 64*1024)
	for try := 0; ; try++ {
		if _, err := relay.WriteTo(make([]byte, l.size), l.peer); err != nil {
			return nil, err
		}
		_ = relay.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := relay.ReadFrom(buf); err == nil {
			break
		} else if try == 4 {
			return nil, fmt.Errorf("no echo from %s through the relay: %w", l.peer, err)
		}
	}
	_ = relay.SetReadDeadline(time.Time{})
	return relay, nil
}

// send sends through relay until stop, keeping at most l.window datagrams
// in flight; a datagram not back within 100 ms is written off.
func (l *load) send(relay net.PacketConn, stop time.Time) {
	slots := make(chan struct{}, l.window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64*1024)
		for {
			if _, _, err := relay.ReadFrom(buf); err != nil {
				return
			}
			l.received.Add(1)
			select {
			case <-slots:
			default:
			}
		}
	}()

	payload := make([]byte, l.size)
	timer := time.NewTimer(time.Hour)
	next := time.Now()
	for now := time.Now(); now.Before(stop); now = time.Now() {
		if l.interval > 0 {
			if wait := next.Sub(now); wait > 0 {
				time.Sleep(wait)
			}
			next = next.Add(l.interval)
		}
		select {
		case slots <- struct{}{}:
		default:
			timer.Reset(100 * time.Millisecond)
			select {
			case slots <- struct{}{}:
			case <-timer.C:
				l.writtenOff.Add(1)
			}
			timer.Stop()
		}
		if _, err := relay.WriteTo(payload, l.peer); err != nil {
			log.Printf("send: %v", err)
			return
		}
		l.sent.Add(1)
	}
	// The reader goroutine ends when run closes the relay.
}

// runEcho sends back every datagram addr receives, from a goroutine.
func runEcho(addr netip.AddrPort) error {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return fmt.Errorf("echo peer: %w", err)
	}
	go func() {
		buf := make([]byte, 64*1024)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = conn.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return nil
}

// serveRelay runs media/turn's Server as the node starts it, on UDP and
// TCP on one port number, until SIGINT or SIGTERM.
func serveRelay(addr, secret, realm string, peer netip.AddrPort, profile string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	s, err := siteturn.New(siteturn.Config{
		Realm:       realm,
		ListenUDP:   addr,
		ListenTCP:   addr,
		RelayBindIP: host,
		Secret:      []byte(secret),
		// turnutils_uclient binds a channel to the peer's port and the
		// next (RTP and RTCP), even with -c.
		AllowedPeerAddrs: []netip.AddrPort{peer, netip.AddrPortFrom(peer.Addr(), peer.Port()+1)},
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		return err
	}
	fmt.Printf("relay on %s (UDP) and %s (TCP), pid %d\n", s.Addrs().UDP, s.Addrs().TCP, os.Getpid())
	<-ctx.Done()
	shut, cancelShut := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShut()
	return s.Shutdown(shut)
}

// cpuSeconds is the user and system time of process pid, from
// /proc/pid/stat (fields 14 and 15, in clock ticks of 1/100 s); 0 when pid
// is 0.
func cpuSeconds(pid int) (float64, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (utime + stime) / 100, nil
}

// quietLogs discards pion's client logs.
type quietLogs struct{}

func (quietLogs) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, os.Stderr)
}
