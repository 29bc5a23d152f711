package signal

import (
	"reflect"
	"testing"
)

func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"v":1,"type":"join","room":"r","name":"Ann"}`,
		`{"v":1,"type":"joined","participant":"p","participants":[],"tracks":[{"id":"t","participant":"p","kind":"video","layers":[]}]}`,
		`{"v":1,"type":"offer","target":"publish","sdp":"v=0\r\n"}`,
		`{"v":1,"type":"candidate","target":"subscribe","candidate":{"candidate":"","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"v":1,"type":"chat","text":"\u00e9"}`,
		`{"v":1,"type":"error","code":"forbidden","permission":"xa_icall_chat"}`,
		`{"v":1,"type":"track-published","track":{"id":"t","participant":"p","kind":"audio"}}`,
		`{"v":1,"TYPE":"leave"}`,
		`{"v":2}`,
		`[]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data, DefaultMaxSize)
		if err != nil {
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode of an accepted message: %v", err)
		}
		// Escaping may make the re-encoded form a little longer.
		m2, err := Decode(again, max(len(again), DefaultMaxSize))
		if err != nil {
			t.Fatalf("Decode(Encode(m)) = %v for %s", err, again)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", m, m2)
		}
	})
}
