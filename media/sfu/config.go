package sfu

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"siteline/media/signal"
)

// Authorizer answers whether a user may perform an in-call action. Check
// returns nil if userID holds permission, a *storage.ForbiddenError naming
// the permission if not, and any other error if it could not tell.
type Authorizer interface {
	Check(userID, permission string) error
}

// Recorder writes a call's chat messages and its end to the session's
// history. The SFU calls it after the permission check and before anyone
// is told: an error refuses the action and the participant gets an error
// message.
type Recorder interface {
	Chat(room string, from ParticipantInfo, m signal.Message) error
	End(room string, by ParticipantInfo) error
	// Annotate writes a stroke drawn on a snapshot.
	Annotate(room string, by ParticipantInfo, m signal.Message) error
	// Recording writes that by started (on) or stopped recording.
	Recording(room string, by ParticipantInfo, on bool) error
}

// Config configures an SFU. Authorizer and one of UDPConn or UDPPort are
// required.
type Config struct {
	// Logger receives the SFU's logs and pion's; nil discards them.
	Logger *slog.Logger
	// UDPConn is the one UDP socket every call shares (ICE UDP mux). The
	// SFU owns it from Start on and closes it on Shutdown.
	UDPConn net.PacketConn
	// UDPPort, used when UDPConn is nil, makes the SFU open this UDP port
	// on every interface address, one socket each (ICE multi UDP mux):
	// what a node configured with an unspecified address needs, since a
	// single socket on 0.0.0.0 cannot tell which local address a packet
	// came to.
	UDPPort int
	// TCPListener, if set, accepts ICE-TCP for clients whose UDP is
	// blocked. The SFU closes it on Shutdown.
	TCPListener net.Listener
	// NAT1To1IPs are public addresses announced as host candidates in
	// place of the local ones, for a node behind a static NAT.
	NAT1To1IPs []string
	// Authorizer checks every participant action.
	Authorizer Authorizer
	// Recorder, if set, writes chat, annotations, recording on and off
	// and end before they are delivered.
	Recorder Recorder
	// RecordDir is where recordings are written while they run; "" turns
	// recording off.
	RecordDir string
	// OnRecorded receives each recording once its files are finished (on
	// stop, or when the call ends), from a goroutine Shutdown waits for.
	OnRecorded func(Recorded)
	// Registerer receives the SFU's metrics; nil keeps them private.
	Registerer prometheus.Registerer
	// QueueSize is the number of packets each subscriber's writer may
	// hold before it drops; 0 means 512.
	QueueSize int
	// MessageQueueSize is the number of signaling messages a participant
	// may have pending before it is disconnected as too slow; 0 means 256.
	MessageQueueSize int
	// MaxParticipants caps the participants of one room, hidden ones
	// included; a join over it is refused with ErrLimit. 0 means no cap.
	MaxParticipants int
	// MessageRate is how many chat messages, and apart from them how many
	// annotations, a participant may send a second on average, with
	// bursts of MessageBurst; what goes over is refused with ErrLimit and
	// not written or relayed. 0 means 5 a second, bursts of 20.
	MessageRate  float64
	MessageBurst int
	// DirectTimeout is how long a WHIP or WHEP session's connection may
	// take to connect, or stay disconnected, before the session is
	// removed (its tracks unpublished, as on a leave); a failed or closed
	// connection is removed at once. 0 means 30 seconds.
	DirectTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.QueueSize == 0 {
		c.QueueSize = 512
	}
	if c.MessageQueueSize == 0 {
		c.MessageQueueSize = 256
	}
	if c.MessageRate == 0 {
		c.MessageRate = 5
	}
	if c.MessageBurst == 0 {
		c.MessageBurst = 20
	}
	if c.DirectTimeout == 0 {
		c.DirectTimeout = 30 * time.Second
	}
}

// Validate names the first field at fault.
func (c *Config) Validate() error {
	switch {
	case c.UDPConn == nil && c.UDPPort == 0:
		return errors.New("sfu config: UDPConn or UDPPort is required")
	case c.UDPConn != nil && c.UDPPort != 0:
		return errors.New("sfu config: UDPConn and UDPPort are exclusive")
	case c.UDPPort < 0 || c.UDPPort > 65535:
		return errors.New("sfu config: UDPPort is out of range")
	case c.Authorizer == nil:
		return errors.New("sfu config: Authorizer is required")
	case c.QueueSize < 0:
		return errors.New("sfu config: QueueSize must not be negative")
	case c.MessageQueueSize < 0:
		return errors.New("sfu config: MessageQueueSize must not be negative")
	case c.MaxParticipants < 0:
		return errors.New("sfu config: MaxParticipants must not be negative")
	case c.MessageRate < 0 || c.MessageBurst < 0:
		return errors.New("sfu config: MessageRate and MessageBurst must not be negative")
	case c.DirectTimeout < 0:
		return errors.New("sfu config: DirectTimeout must not be negative")
	}
	return nil
}

// ParticipantInfo describes who joins. The caller (node's call service)
// fills it from the authenticated session and the join message.
type ParticipantInfo struct {
	// ID identifies this connection in the room; empty means generate one.
	ID string
	// UserID is whom the Authorizer is asked about.
	UserID string
	// Name is shown to the others.
	Name string
	// Hidden joins as a supervisor sitting in: receives every track and the
	// chat, is never announced to anyone, and may not chat, draw or
	// publish, but for coaching audio (supervise.go). Every visible
	// participant who is not a guest is sent monitoring-on while a hidden
	// one is in the room (when it joins, or when they join after it, and
	// again when the mode or the supervisors change) and monitoring-off
	// when the last one leaves or reveals itself. Whom a supervisor may
	// sit in on is decided before Join, by the caller.
	Hidden bool
	// Monitor is the user id of the member a hidden participant supervises,
	// as the caller checked it: the coaching audio of the supervisor goes
	// to that user's participants only.
	Monitor string
	// Guest marks the customer side (a guest of an invitation): a guest
	// is never told of supervisors, not even that one is there.
	Guest bool
}
