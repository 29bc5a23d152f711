package signal

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeRefuses(t *testing.T) {
	big := `{"v":1,"type":"chat","text":"` + strings.Repeat("a", 200) + `"}`
	tests := []struct {
		name string
		in   string
		max  int
		want error
	}{
		{"empty", ``, 1024, ErrMalformed},
		{"not json", `hello`, 1024, ErrMalformed},
		{"array", `[1,2]`, 1024, ErrMalformed},
		{"truncated", `{"v":1,"type":"join"`, 1024, ErrMalformed},
		{"trailing data", `{"v":1,"type":"leave"} {}`, 1024, ErrMalformed},
		{"unknown field", `{"v":1,"type":"leave","x":1}`, 1024, ErrMalformed},
		{"wrong field type", `{"v":1,"type":"join","room":5}`, 1024, ErrMalformed},
		{"float version", `{"v":1.5,"type":"leave"}`, 1024, ErrMalformed},
		{"invalid utf8", "{\"v\":1,\"type\":\"chat\",\"text\":\"\xff\"}", 1024, ErrMalformed},
		{"too large", big, 100, ErrTooLarge},
		{"no version", `{"type":"leave"}`, 1024, ErrVersion},
		{"version 2", `{"v":2,"type":"leave"}`, 1024, ErrVersion},
		{"no type", `{"v":1}`, 1024, ErrUnknownType},
		{"unknown type", `{"v":1,"type":"dance"}`, 1024, ErrUnknownType},
		{"join without room", `{"v":1,"type":"join"}`, 1024, ErrInvalid},
		{"monitor without hidden", `{"v":1,"type":"join","room":"r","monitor":"u"}`, 1024, ErrInvalid},
		{"offer without sdp", `{"v":1,"type":"offer","target":"publish"}`, 1024, ErrInvalid},
		{"offer without target", `{"v":1,"type":"offer","sdp":"v=0"}`, 1024, ErrInvalid},
		{"offer bad target", `{"v":1,"type":"offer","sdp":"v=0","target":"x"}`, 1024, ErrInvalid},
		{"candidate missing", `{"v":1,"type":"candidate","target":"publish"}`, 1024, ErrInvalid},
		{"mute bad kind", `{"v":1,"type":"mute","kind":"smell"}`, 1024, ErrInvalid},
		{"empty chat", `{"v":1,"type":"chat"}`, 1024, ErrInvalid},
		{"long chat", `{"v":1,"type":"chat","text":"` + strings.Repeat("a", MaxChatLength+1) + `"}`, 1 << 20, ErrInvalid},
		{"long id", `{"v":1,"type":"leave","id":"` + strings.Repeat("i", MaxIDLength+1) + `"}`, 1024, ErrInvalid},
		{"error without code", `{"v":1,"type":"error"}`, 1024, ErrInvalid},
		{"peer without id", `{"v":1,"type":"participant-joined","peer":{"name":"x"}}`, 1024, ErrInvalid},
		{"track missing", `{"v":1,"type":"track-published"}`, 1024, ErrInvalid},
		{"ice-restart without target", `{"v":1,"type":"ice-restart"}`, 1024, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in), tt.max)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%.60q) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	mid := "0"
	idx := uint16(0)
	msgs := []Message{
		{V: 1, Type: TypeJoin, ID: "1", Room: "s-1", Name: "Ann"},
		{V: 1, Type: TypeJoin, Room: "s-1", Hidden: true, Monitor: "u-2"},
		{V: 1, Type: TypeJoined, Room: "s-1", Participant: "p1",
			Participants: []Peer{{ID: "p2", Name: "Bob"}},
			Tracks:       []Track{{ID: "t", Participant: "p2", Kind: "video", Layers: []string{"f", "h", "q"}}}},
		{V: 1, Type: TypeOffer, Target: TargetPublish, SDP: "v=0\r\n"},
		{V: 1, Type: TypeAnswer, Target: TargetSubscribe, SDP: "v=0\r\n"},
		{V: 1, Type: TypeCandidate, Target: TargetPublish, Candidate: &Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}},
		{V: 1, Type: TypeLeave},
		{V: 1, Type: TypeMute, Kind: "audio", Muted: true},
		{V: 1, Type: TypeChat, Text: "hello", Participant: "p1", Time: 1700000000000},
		{V: 1, Type: TypeParticipantJoined, Peer: &Peer{ID: "p3"}},
		{V: 1, Type: TypeParticipantLeft, Participant: "p3"},
		{V: 1, Type: TypeTrackPublished, Track: &Track{ID: "t", Participant: "p3", Kind: "audio"}},
		{V: 1, Type: TypeTrackUnpublished, Track: &Track{ID: "t", Participant: "p3", Kind: "audio"}},
		{V: 1, Type: TypeMonitoringOn},
		{V: 1, Type: TypeMonitoringOff},
		{V: 1, Type: TypeError, ID: "7", Code: CodeForbidden, Error: "no", Permission: PermChat},
		{V: 1, Type: TypeICERestart, Target: TargetSubscribe},
		{V: 1, Type: TypeEnd, Error: "ended by host"},
	}
	for _, m := range msgs {
		data, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data, DefaultMaxSize)
		if err != nil {
			t.Fatalf("Decode(%s): %v", data, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", data, got, m)
		}
	}
}

func TestStreamOrder(t *testing.T) {
	tests := []struct {
		name string
		dir  Direction
		msgs []string
		bad  int // index of the first refused message, -1 for none
	}{
		{"offer before join", FromClient, []string{`{"v":1,"type":"offer","target":"publish","sdp":"v=0"}`}, 0},
		{"chat before join", FromClient, []string{`{"v":1,"type":"chat","text":"hi"}`}, 0},
		{"join twice", FromClient, []string{`{"v":1,"type":"join","room":"r"}`, `{"v":1,"type":"join","room":"r"}`}, 1},
		{"after leave", FromClient, []string{`{"v":1,"type":"join","room":"r"}`, `{"v":1,"type":"leave"}`, `{"v":1,"type":"chat","text":"x"}`}, 2},
		{"server type from client", FromClient, []string{`{"v":1,"type":"join","room":"r"}`, `{"v":1,"type":"monitoring-on"}`}, 1},
		{"client offers on subscribe", FromClient, []string{`{"v":1,"type":"join","room":"r"}`, `{"v":1,"type":"offer","target":"subscribe","sdp":"v=0"}`}, 1},
		{"client answers on publish", FromClient, []string{`{"v":1,"type":"join","room":"r"}`, `{"v":1,"type":"answer","target":"publish","sdp":"v=0"}`}, 1},
		{"good client", FromClient, []string{
			`{"v":1,"type":"join","room":"r"}`,
			`{"v":1,"type":"offer","target":"publish","sdp":"v=0"}`,
			`{"v":1,"type":"answer","target":"subscribe","sdp":"v=0"}`,
			`{"v":1,"type":"chat","text":"hi"}`,
			`{"v":1,"type":"end"}`,
			`{"v":1,"type":"leave"}`,
		}, -1},
		{"server offer before joined", FromServer, []string{`{"v":1,"type":"offer","target":"subscribe","sdp":"v=0"}`}, 0},
		{"server error before joined", FromServer, []string{`{"v":1,"type":"error","code":"forbidden"}`}, -1},
		{"server after end", FromServer, []string{`{"v":1,"type":"joined","participant":"p"}`, `{"v":1,"type":"end"}`, `{"v":1,"type":"chat","text":"x"}`}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream(tt.dir, DefaultMaxSize)
			for i, in := range tt.msgs {
				_, err := s.Decode([]byte(in))
				if i == tt.bad {
					if !errors.Is(err, ErrOutOfOrder) {
						t.Fatalf("message %d: err = %v, want ErrOutOfOrder", i, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
		})
	}
}

func TestErrorf(t *testing.T) {
	m := Errorf("3", CodeNotFound, "room %s", "r")
	if m.V != Version || m.Type != TypeError || m.ID != "3" || m.Error != "room r" {
		t.Fatalf("Errorf = %+v", m)
	}
}

func TestPermissionsAreInCallIDs(t *testing.T) {
	for _, p := range Permissions() {
		if !strings.HasPrefix(p, "xa_icall_") {
			t.Errorf("%s is not an in-call permission id", p)
		}
	}
}
