package signal

import "fmt"

// Direction says who sent the messages a Stream reads.
type Direction int

// The two directions of a signaling connection.
const (
	// FromClient: the SFU reads what a participant sends.
	FromClient Direction = iota
	// FromServer: a client reads what the SFU sends.
	FromServer
)

var clientTypes = map[Type]bool{
	TypeJoin: true, TypeOffer: true, TypeAnswer: true, TypeCandidate: true,
	TypeLeave: true, TypeMute: true, TypeChat: true, TypeICERestart: true,
	TypeEnd: true, TypeAnnotate: true, TypePointer: true, TypeRecord: true,
	TypeReveal: true, TypeCoach: true, TypeTakeOver: true, TypeTransfer: true,
}

// Stream decodes the messages of one connection in one direction and
// refuses those that come out of order: a client must join first and only
// once, sends nothing after leave or end, and offers only on its publish
// connection and answers only on its subscribe connection. A server
// message other than error comes only after joined, and nothing after end.
// A Stream is not safe for concurrent use; a connection has one reader.
type Stream struct {
	dir     Direction
	maxSize int
	started bool // join (client) or joined (server) seen
	ended   bool // leave or end seen
}

// NewStream returns a Stream reading messages sent in direction dir, each at
// most maxSize bytes.
func NewStream(dir Direction, maxSize int) *Stream {
	return &Stream{dir: dir, maxSize: maxSize}
}

// Decode decodes data as Decode does, then checks its place in the stream.
// A refused message does not change the stream's state.
func (s *Stream) Decode(data []byte) (Message, error) {
	m, err := Decode(data, s.maxSize)
	if err != nil {
		return Message{}, err
	}
	if err := s.Accept(m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// Accept checks that m may come next and records it.
func (s *Stream) Accept(m Message) error {
	var err error
	if s.dir == FromClient {
		err = s.checkClient(m)
	} else {
		err = s.checkServer(m)
	}
	if err != nil {
		return err
	}
	switch m.Type {
	case TypeJoin, TypeJoined:
		s.started = true
	case TypeLeave, TypeEnd:
		if s.dir == FromClient && m.Type == TypeEnd {
			break // ending for all does not end the stream: leave follows
		}
		s.ended = true
	}
	return nil
}

func (s *Stream) checkClient(m Message) error {
	if !clientTypes[m.Type] {
		return fmt.Errorf("%w: %s is not sent by a client", ErrOutOfOrder, m.Type)
	}
	switch {
	case s.ended:
		return fmt.Errorf("%w: %s after leave", ErrOutOfOrder, m.Type)
	case m.Type == TypeJoin && s.started:
		return fmt.Errorf("%w: join twice", ErrOutOfOrder)
	case m.Type != TypeJoin && !s.started:
		return fmt.Errorf("%w: %s before join", ErrOutOfOrder, m.Type)
	case m.Type == TypeOffer && m.Target != TargetPublish:
		return fmt.Errorf("%w: a client offers only on its publish connection", ErrOutOfOrder)
	case m.Type == TypeAnswer && m.Target != TargetSubscribe:
		return fmt.Errorf("%w: a client answers only on its subscribe connection", ErrOutOfOrder)
	}
	return nil
}

func (s *Stream) checkServer(m Message) error {
	switch {
	case m.Type == TypeJoin || m.Type == TypeLeave:
		return fmt.Errorf("%w: %s is not sent by a server", ErrOutOfOrder, m.Type)
	case s.ended:
		return fmt.Errorf("%w: %s after end", ErrOutOfOrder, m.Type)
	case m.Type == TypeJoined && s.started:
		return fmt.Errorf("%w: joined twice", ErrOutOfOrder)
	case !s.started && m.Type != TypeJoined && m.Type != TypeError && m.Type != TypeEnd:
		return fmt.Errorf("%w: %s before joined", ErrOutOfOrder, m.Type)
	case m.Type == TypeOffer && m.Target != TargetSubscribe:
		return fmt.Errorf("%w: the server offers only on the subscribe connection", ErrOutOfOrder)
	case m.Type == TypeAnswer && m.Target != TargetPublish:
		return fmt.Errorf("%w: the server answers only on the publish connection", ErrOutOfOrder)
	}
	return nil
}
