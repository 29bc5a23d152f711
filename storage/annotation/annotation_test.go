package annotation

import (
	"encoding/json"
	"testing"

	"siteline/storage"
)

func TestVisibleKeepsTheStrokesAfterTheLastClear(t *testing.T) {
	a, b, c := Stroke{Tool: "pen"}, Stroke{Tool: "arrow"}, Stroke{Tool: "text"}
	for _, tc := range []struct {
		in   []Stroke
		want int
	}{
		{nil, 0},
		{[]Stroke{a, b}, 2},
		{[]Stroke{a, {Clear: true}, b, c}, 2},
		{[]Stroke{a, {Clear: true}, b, {Clear: true}}, 0},
	} {
		if got := Visible(tc.in); len(got) != tc.want {
			t.Errorf("Visible(%v) has %d strokes, want %d", tc.in, len(got), tc.want)
		}
	}
}

func TestDrawnGroupsTheEventsStrokesByMedia(t *testing.T) {
	ev := func(kind, payload string) storage.SessionEvent {
		return storage.SessionEvent{Kind: kind, Payload: json.RawMessage(payload)}
	}
	drawn := Drawn([]storage.SessionEvent{
		ev(storage.EventAnnotation, `{"participant":"p1","media":"m1","stroke":{"tool":"pen","color":"#ef4444","width":0.006,"points":[[0.1,0.2],[0.3,0.4]]}}`),
		ev(storage.EventChat, `{"text":"hello"}`),
		ev(storage.EventAnnotation, `{"media":"m2","stroke":{"tool":"arrow","color":"#22c55e","points":[[0,0],[1,1]]}}`),
		ev(storage.EventAnnotation, `{"media":"m1","stroke":{"clear":true,"points":[]}}`),
		ev(storage.EventAnnotation, `{"media":"m1"}`),          // no stroke
		ev(storage.EventAnnotation, `{"media":"m1","stroke":`), // not JSON
	})
	if len(drawn) != 2 || len(drawn["m1"]) != 2 || len(drawn["m2"]) != 1 {
		t.Fatalf("drawn = %+v; want two strokes on m1 and one on m2", drawn)
	}
	if s := drawn["m1"][0]; s.Tool != "pen" || s.Color != "#ef4444" || s.Width != 0.006 || s.Points[1] != [2]float64{0.3, 0.4} {
		t.Errorf("the first stroke on m1 = %+v", s)
	}
	if !drawn["m1"][1].Clear {
		t.Errorf("the second stroke on m1 = %+v, want the clear", drawn["m1"][1])
	}
}

func TestSavedReadsTheStrokesAnUploadCarries(t *testing.T) {
	got := Saved(json.RawMessage(`{"source":"m1","strokes":[{"tool":"circle","color":"#3b82f6","width":0.006,"points":[[0.2,0.2],[0.6,0.5]]}]}`))
	if len(got) != 1 || got[0].Tool != "circle" || got[0].Points[1] != [2]float64{0.6, 0.5} {
		t.Errorf("Saved = %+v", got)
	}
	for _, raw := range []string{"", `{}`, `[1,2]`, `{"strokes":"no"}`} {
		if got := Saved(json.RawMessage(raw)); len(got) != 0 {
			t.Errorf("Saved(%q) = %+v, want no strokes", raw, got)
		}
	}
}
