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
		{"media without id", `{"v":1,"type":"media","media":{"name":"x"}}`, 1024, ErrInvalid},
		{"annotate without media", `{"v":1,"type":"annotate","stroke":{"id":"s","tool":"pen","color":"#ff0000","width":0.01,"points":[[0.1,0.1],[0.2,0.2]]}}`, 1024, ErrInvalid},
		{"annotate without stroke", `{"v":1,"type":"annotate","media":{"id":"m"}}`, 1024, ErrInvalid},
		{"stroke unknown tool", `{"v":1,"type":"annotate","media":{"id":"m"},"stroke":{"id":"s","tool":"laser","color":"#ff0000","width":0.01,"points":[[0.1,0.1]]}}`, 1024, ErrInvalid},
		{"stroke bad colour", `{"v":1,"type":"annotate","media":{"id":"m"},"stroke":{"id":"s","tool":"pen","color":"red","width":0.01,"points":[[0.1,0.1]]}}`, 1024, ErrInvalid},
		{"stroke off the image", `{"v":1,"type":"annotate","media":{"id":"m"},"stroke":{"id":"s","tool":"pen","color":"#ff0000","width":0.01,"points":[[0.1,1.1]]}}`, 1024, ErrInvalid},
		{"stroke no points", `{"v":1,"type":"annotate","media":{"id":"m"},"stroke":{"id":"s","tool":"pen","color":"#ff0000","width":0.01,"points":[]}}`, 1024, ErrInvalid},
		{"arrow with three points", `{"v":1,"type":"annotate","media":{"id":"m"},"stroke":{"id":"s","tool":"arrow","color":"#ff0000","width":0.01,"points":[[0,0],[1,1],[0.5,0.5]]}}`, 1024, ErrInvalid},
		{"text without text", `{"v":1,"type":"annotate","media":{"id":"m"},"stroke":{"id":"s","tool":"text","color":"#ff0000","width":0.01,"points":[[0.5,0.5]]}}`, 1024, ErrInvalid},
		{"stroke zero width", `{"v":1,"type":"annotate","media":{"id":"m"},"stroke":{"id":"s","tool":"pen","color":"#ff0000","width":0,"points":[[0.1,0.1]]}}`, 1024, ErrInvalid},
		{"stroke without id", `{"v":1,"type":"annotate","media":{"id":"m"},"stroke":{"tool":"pen","color":"#ff0000","width":0.01,"points":[[0.1,0.1]]}}`, 1024, ErrInvalid},
		{"clear with points", `{"v":1,"type":"annotate","media":{"id":"m"},"stroke":{"id":"s","clear":true,"points":[[0.1,0.1]]}}`, 1024, ErrInvalid},
		{"pointer off the video", `{"v":1,"type":"pointer","point":{"participant":"p","x":-0.1,"y":0.5}}`, 1024, ErrInvalid},
		{"pointer without participant", `{"v":1,"type":"pointer","point":{"x":0.1,"y":0.5}}`, 1024, ErrInvalid},
		{"record not a bool", `{"v":1,"type":"record","recording":"yes"}`, 1024, ErrMalformed},
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
		{V: 1, Type: TypeMedia, Media: &Media{ID: "m1", Kind: "snapshot", Name: "pump.png", ContentType: "image/png", Size: 2048, URL: "/api/v1/media/m1", By: "p1", Of: "p2"}},
		{V: 1, Type: TypeMediaDeleted, Media: &Media{ID: "m1", Kind: "file", Name: "manual.pdf"}, Name: "Ada"},
		{V: 1, Type: TypeAnnotate, Media: &Media{ID: "m1"}, Stroke: &Stroke{ID: "s1", Tool: "pen", Color: "#FF3B30", Width: 0.005, Points: [][2]float64{{0, 0}, {0.5, 0.25}, {1, 1}}}},
		{V: 1, Type: TypeAnnotate, Media: &Media{ID: "m1"}, Stroke: &Stroke{ID: "s2", Tool: "text", Color: "#ffffff", Width: 0.03, Points: [][2]float64{{0.4, 0.4}}, Text: "this valve"}},
		{V: 1, Type: TypeAnnotate, Media: &Media{ID: "m1"}, Stroke: &Stroke{ID: "s3", Clear: true}},
		{V: 1, Type: TypePointer, Point: &Point{Participant: "p2", X: 0.3, Y: 0.6}},
		{V: 1, Type: TypePointer},
		{V: 1, Type: TypeRecord, Recording: true},
		{V: 1, Type: TypeRecording, Participant: "p1", Name: "Eve", Recording: true},
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
