package signal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"siteline/storage"
)

// Errors returned by Decode and Stream.Decode, wrapped with the detail.
var (
	ErrTooLarge    = errors.New("message too large")
	ErrMalformed   = errors.New("malformed message")
	ErrVersion     = errors.New("unsupported protocol version")
	ErrUnknownType = errors.New("unknown message type")
	ErrInvalid     = errors.New("invalid message")
	ErrOutOfOrder  = errors.New("message out of order")
)

// Limits on fields, so that a peer cannot make the SFU hold or relay
// unbounded strings.
const (
	MaxIDLength   = 128  // request ids, room ids, participant ids, names
	MaxChatLength = 4096 // bytes of chat text
)

// DefaultMaxSize is a sensible maxSize for Decode: large enough for an SDP
// offer with simulcast video and audio.
const DefaultMaxSize = 64 << 10

var knownTypes = map[Type]bool{
	TypeJoin: true, TypeJoined: true, TypeOffer: true, TypeAnswer: true,
	TypeCandidate: true, TypeLeave: true, TypeMute: true, TypeChat: true,
	TypeParticipantJoined: true, TypeParticipantLeft: true,
	TypeTrackPublished: true, TypeTrackUnpublished: true,
	TypeMonitoringOn: true, TypeMonitoringOff: true, TypeError: true,
	TypeICERestart: true, TypeEnd: true,
	TypeMedia: true, TypeMediaDeleted: true, TypeAnnotate: true, TypePointer: true,
	TypeRecord: true, TypeRecording: true,
	TypeReveal: true, TypeCoach: true, TypeTakeOver: true, TypeTransfer: true, TypeOwner: true,
}

// Drawing limits: a stroke is at most MaxStrokePoints points; tools and
// colours are from a fixed set.
const MaxStrokePoints = 2000

var (
	strokeTools = map[string]bool{"pen": true, "arrow": true, "circle": true, "text": true}
	toolPoints  = map[string]int{"arrow": 2, "circle": 2, "text": 1}
)

// Decode parses and checks one message on its own: at most maxSize bytes,
// one JSON object with no unknown fields, version 1, a known type and the
// fields that type requires. It does not check the order of messages; see
// Stream for that.
func Decode(data []byte, maxSize int) (Message, error) {
	if len(data) > maxSize {
		return Message{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), maxSize)
	}
	if !utf8.Valid(data) {
		return Message{}, fmt.Errorf("%w: not valid UTF-8", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Message
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Message{}, fmt.Errorf("%w: data after the message", ErrMalformed)
	}
	if m.V != Version {
		return Message{}, fmt.Errorf("%w: v=%d, want %d", ErrVersion, m.V, Version)
	}
	if !knownTypes[m.Type] {
		return Message{}, fmt.Errorf("%w: %q", ErrUnknownType, truncate(string(m.Type)))
	}
	normalize(&m)
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// Encode returns the JSON form of m, setting the version if it is zero.
func Encode(m Message) ([]byte, error) {
	if m.V == 0 {
		m.V = Version
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s message: %w", m.Type, err)
	}
	return data, nil
}

// normalize makes empty lists nil, so that a decoded message and its
// re-encoded form compare equal.
func normalize(m *Message) {
	if len(m.Participants) == 0 {
		m.Participants = nil
	}
	if len(m.Tracks) == 0 {
		m.Tracks = nil
	}
	for i := range m.Tracks {
		if len(m.Tracks[i].Layers) == 0 {
			m.Tracks[i].Layers = nil
		}
	}
	if m.Track != nil && len(m.Track.Layers) == 0 {
		m.Track.Layers = nil
	}
}

// Validate checks that m has the fields its type requires and that none is
// too long.
func (m *Message) Validate() error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, m.Type, fmt.Sprintf(format, args...))
	}
	for name, v := range map[string]string{
		"id": m.ID, "room": m.Room, "participant": m.Participant,
		"name": m.Name, "monitor": m.Monitor, "kind": m.Kind, "code": m.Code,
		"permission": m.Permission, "mode": m.Mode, "to_user": m.ToUser, "to_team": m.ToTeam,
		"user": m.User,
	} {
		if len(v) > MaxIDLength {
			return invalid("%s longer than %d bytes", name, MaxIDLength)
		}
	}
	if len(m.Text) > MaxChatLength {
		return invalid("text longer than %d bytes", MaxChatLength)
	}
	switch m.Type {
	case TypeJoin:
		if m.Room == "" {
			return invalid("room is required")
		}
		if m.Monitor != "" && !m.Hidden {
			return invalid("monitor is only for hidden participants")
		}
	case TypeJoined:
		if m.Participant == "" {
			return invalid("participant is required")
		}
	case TypeOffer, TypeAnswer:
		if m.SDP == "" {
			return invalid("sdp is required")
		}
		if !m.Target.valid() {
			return invalid("target must be publish or subscribe")
		}
	case TypeCandidate:
		if m.Candidate == nil {
			return invalid("candidate is required")
		}
		if !m.Target.valid() {
			return invalid("target must be publish or subscribe")
		}
	case TypeICERestart:
		if !m.Target.valid() {
			return invalid("target must be publish or subscribe")
		}
	case TypeMute:
		if m.Kind != "audio" && m.Kind != "video" {
			return invalid("kind must be audio or video")
		}
	case TypeChat:
		if m.Text == "" {
			return invalid("text is required")
		}
	case TypeParticipantJoined:
		if m.Peer == nil || m.Peer.ID == "" {
			return invalid("peer with an id is required")
		}
	case TypeParticipantLeft:
		if m.Participant == "" {
			return invalid("participant is required")
		}
	case TypeTrackPublished, TypeTrackUnpublished:
		if m.Track == nil || m.Track.ID == "" {
			return invalid("track with an id is required")
		}
	case TypeError:
		if m.Code == "" {
			return invalid("code is required")
		}
	case TypeMedia, TypeMediaDeleted:
		if m.Media == nil || m.Media.ID == "" {
			return invalid("media with an id is required")
		}
	case TypeAnnotate:
		if m.Media == nil || m.Media.ID == "" || len(m.Media.ID) > MaxIDLength {
			return invalid("media with an id of at most %d bytes is required", MaxIDLength)
		}
		if m.Stroke == nil {
			return invalid("stroke is required")
		}
		if err := m.Stroke.validate(); err != nil {
			return invalid("stroke: %s", err)
		}
	case TypeMonitoringOn:
		if m.Mode != "" && m.Mode != ModeSitIn && m.Mode != ModeCoach {
			return invalid("mode must be %s or %s", ModeSitIn, ModeCoach)
		}
	case TypeTransfer:
		if (m.ToUser == "") == (m.ToTeam == "") {
			return invalid("exactly one of to_user and to_team is required")
		}
	case TypeOwner:
		if m.User == "" {
			return invalid("user is required")
		}
	case TypePointer:
		if p := m.Point; p != nil {
			if p.Participant == "" || len(p.Participant) > MaxIDLength {
				return invalid("point needs the participant whose video it is on")
			}
			if !unit(p.X) || !unit(p.Y) {
				return invalid("point x and y must be between 0 and 1")
			}
		}
	}
	return nil
}

// unit reports whether v is in [0, 1] (NaN is not).
func unit(v float64) bool { return v >= 0 && v <= 1 }

func (s *Stroke) validate() error {
	if s.ID == "" || len(s.ID) > MaxIDLength {
		return fmt.Errorf("id of 1 to %d bytes is required", MaxIDLength)
	}
	if s.Clear {
		if s.Tool != "" || len(s.Points) > 0 || s.Text != "" {
			return errors.New("a clear stroke carries nothing else")
		}
		return nil
	}
	if !strokeTools[s.Tool] {
		return fmt.Errorf("tool %q is not one of pen, arrow, circle, text", truncate(s.Tool))
	}
	if !storage.ValidColor(s.Color) {
		return fmt.Errorf("color %q is not #rrggbb", truncate(s.Color))
	}
	if !(s.Width > 0 && s.Width <= 0.2) {
		return errors.New("width must be above 0 and at most 0.2")
	}
	n := len(s.Points)
	if want := toolPoints[s.Tool]; want > 0 && n != want {
		return fmt.Errorf("%s takes %d points, got %d", s.Tool, want, n)
	}
	if n == 0 || n > MaxStrokePoints {
		return fmt.Errorf("1 to %d points are required, got %d", MaxStrokePoints, n)
	}
	for _, pt := range s.Points {
		if !unit(pt[0]) || !unit(pt[1]) {
			return errors.New("points must be between 0 and 1")
		}
	}
	if s.Tool == "text" && (s.Text == "" || len(s.Text) > 500) {
		return errors.New("text of 1 to 500 bytes is required")
	}
	if s.Tool != "text" && s.Text != "" {
		return errors.New("only the text tool carries text")
	}
	return nil
}

func (t Target) valid() bool { return t == TargetPublish || t == TargetSubscribe }

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}
