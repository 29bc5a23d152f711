package signal

// Version is the protocol version this package speaks. A message with any
// other "v" is refused.
const Version = 1

// Type names a kind of message.
type Type string

// Message types. The comment says who sends it: C for the participant's
// client, S for the SFU.
const (
	TypeJoin              Type = "join"               // C: enter a room
	TypeJoined            Type = "joined"             // S: you are in; who and what is there
	TypeOffer             Type = "offer"              // C (publish) or S (subscribe)
	TypeAnswer            Type = "answer"             // S (publish) or C (subscribe)
	TypeCandidate         Type = "candidate"          // C, S: a trickled ICE candidate
	TypeLeave             Type = "leave"              // C: leave the room
	TypeMute              Type = "mute"               // C: my mic/camera is (un)muted; S: someone's is
	TypeChat              Type = "chat"               // C: say something; S: someone said something
	TypeParticipantJoined Type = "participant-joined" // S
	TypeParticipantLeft   Type = "participant-left"   // S
	TypeTrackPublished    Type = "track-published"    // S
	TypeTrackUnpublished  Type = "track-unpublished"  // S
	TypeMonitoringOn      Type = "monitoring-on"      // S: a supervisor is watching you
	TypeMonitoringOff     Type = "monitoring-off"     // S: the supervisor has gone
	TypeError             Type = "error"              // S: a request failed
	TypeICERestart        Type = "ice-restart"        // C, S: restart ICE on a connection
	TypeEnd               Type = "end"                // C: end the call for all; S: the call has ended
	TypeMedia             Type = "media"              // S: a snapshot or file was added to the call
	TypeMediaDeleted      Type = "media-deleted"      // S: a snapshot or file of the call was deleted (Name: by whom)
	TypeAnnotate          Type = "annotate"           // C: draw on a snapshot; S: someone drew
	TypePointer           Type = "pointer"            // C: point at a spot of a video; S: someone points
	TypeRecord            Type = "record"             // C: start or stop recording
	TypeRecording         Type = "recording"          // S: recording is on or off

	// Supervision (SPEC.md section 4). monitoring-on carries the mode and
	// the supervisors' names and is sent again whenever either changes.
	TypeReveal   Type = "reveal"    // C: a hidden supervisor becomes a visible participant
	TypeCoach    Type = "coach"     // C: a hidden supervisor starts (coaching) or stops coaching
	TypeTakeOver Type = "take-over" // C: the supervisor becomes the session's owner
	TypeTransfer Type = "transfer"  // C: move the session to another user or a team's queue
	TypeOwner    Type = "owner"     // S: the session's owning expert changed
)

// Monitoring modes carried by monitoring-on.
const (
	ModeSitIn = "sit-in" // a supervisor sees and hears the call
	ModeCoach = "coach"  // a supervisor also speaks to you, unheard by the guest
)

// Target names one of a participant's two peer connections.
type Target string

// The two peer connections of a participant.
const (
	// TargetPublish is the connection the participant sends media on; the
	// participant offers, the SFU answers.
	TargetPublish Target = "publish"
	// TargetSubscribe is the connection the participant receives media
	// on; the SFU offers, the participant answers.
	TargetSubscribe Target = "subscribe"
)

// Error codes carried by TypeError messages.
const (
	CodeBadMessage = "bad-message" // the message was refused by Decode
	CodeForbidden  = "forbidden"   // a permission is missing; see Permission
	CodeNotFound   = "not-found"   // the room or participant does not exist
	CodeConflict   = "conflict"    // the request clashes with the call's state
	CodeLimit      = "limit"       // a limit was reached (rate, call size); the message names it
	CodeInternal   = "internal"    // the SFU failed; the message says how
)

// Message is one signaling message. The fields after the envelope (V, Type,
// ID) are used according to Type; unused fields are left empty and omitted
// from the JSON.
type Message struct {
	V    int    `json:"v"`
	Type Type   `json:"type"`
	ID   string `json:"id,omitempty"` // request id, echoed by a reply or error

	Room        string `json:"room,omitempty"`        // join, joined
	Participant string `json:"participant,omitempty"` // who: joined (you), participant-left, chat, mute
	Name        string `json:"name,omitempty"`        // join: display name; chat: sender's name
	Hidden      bool   `json:"hidden,omitempty"`      // join: sit in without being announced
	Monitor     string `json:"monitor,omitempty"`     // join (hidden): user id of the member being supervised

	Participants []Peer  `json:"participants,omitempty"` // joined
	Tracks       []Track `json:"tracks,omitempty"`       // joined
	Peer         *Peer   `json:"peer,omitempty"`         // participant-joined
	Track        *Track  `json:"track,omitempty"`        // track-published, track-unpublished

	Target    Target     `json:"target,omitempty"`    // offer, answer, candidate, ice-restart
	SDP       string     `json:"sdp,omitempty"`       // offer, answer
	Candidate *Candidate `json:"candidate,omitempty"` // candidate

	Kind  string `json:"kind,omitempty"`  // mute: "audio" or "video"
	Muted bool   `json:"muted,omitempty"` // mute
	Text  string `json:"text,omitempty"`  // chat
	Time  int64  `json:"time,omitempty"`  // chat (S): Unix milliseconds

	Media     *Media  `json:"media,omitempty"`     // media; annotate: MediaID only
	Stroke    *Stroke `json:"stroke,omitempty"`    // annotate
	Point     *Point  `json:"point,omitempty"`     // pointer; nil hides the pointer
	Recording bool    `json:"recording,omitempty"` // record, recording: on or off; joined: the call is being recorded

	Mode         string `json:"mode,omitempty"`          // monitoring-on: sit-in or coach
	Coaching     bool   `json:"coaching,omitempty"`      // coach: on or off
	MemberLeaves bool   `json:"member_leaves,omitempty"` // take-over, transfer: the supervised member leaves the call
	ToUser       string `json:"to_user,omitempty"`       // transfer: the user who becomes the owner
	ToTeam       string `json:"to_team,omitempty"`       // transfer: the team whose queue takes the session
	User         string `json:"user,omitempty"`          // owner: the new owner's user id

	Code       string `json:"code,omitempty"`       // error
	Error      string `json:"error,omitempty"`      // error: what went wrong; end: why
	Permission string `json:"permission,omitempty"` // error (forbidden): the missing permission
}

// Peer is a participant as the others see it.
type Peer struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Track is a published track as subscribers see it.
type Track struct {
	ID          string   `json:"id"`
	Participant string   `json:"participant"`
	Kind        string   `json:"kind"`             // "audio" or "video"
	StreamID    string   `json:"stream,omitempty"` // the media stream id in the SDP
	Layers      []string `json:"layers,omitempty"` // simulcast rids, if any
}

// Media is a snapshot or file of the call, kept by the node; participants
// fetch it from URL.
type Media struct {
	ID          string `json:"id"`
	Kind        string `json:"kind,omitempty"` // "snapshot" or "file"
	Name        string `json:"name,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size,omitempty"`
	URL         string `json:"url,omitempty"`
	By          string `json:"by,omitempty"` // participant id of who added it
	// Of is the participant whose video a snapshot was taken from.
	Of string `json:"of,omitempty"`
}

// Stroke is one drawing on a snapshot, in coordinates relative to the
// image: 0,0 is the top left corner, 1,1 the bottom right.
type Stroke struct {
	ID     string       `json:"id"`
	Tool   string       `json:"tool"`           // pen, arrow, circle, text
	Color  string       `json:"color"`          // #rrggbb
	Width  float64      `json:"width"`          // relative to the image width
	Points [][2]float64 `json:"points"`         // pen: the path; arrow, circle: two points; text: one
	Text   string       `json:"text,omitempty"` // text
	Clear  bool         `json:"clear,omitempty"`
}

// Point is a position on a participant's video, relative to the frame.
type Point struct {
	Participant string  `json:"participant"` // whose video
	X           float64 `json:"x"`
	Y           float64 `json:"y"`
}

// Candidate is a trickled ICE candidate, as RTCIceCandidateInit in the
// browser. An empty Candidate string marks the end of candidates.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// New returns a message of type t with the current version.
func New(t Type) Message { return Message{V: Version, Type: t} }

// Errorf returns an error message replying to request id.
func Errorf(id, code, format string, args ...any) Message {
	m := New(TypeError)
	m.ID = id
	m.Code = code
	m.Error = sprintf(format, args...)
	return m
}
