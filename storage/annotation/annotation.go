// Package annotation reads the drawings on snapshots as a session's
// history keeps them: the strokes of its annotation events, drawn live on
// a snapshot in the call, and the strokes a saved snapshot carries. The
// session page and the PDF report draw them both from here.
package annotation

import (
	"encoding/json"

	"siteline/storage"
)

// Stroke is one drawing on a snapshot, as the call page sends it: points
// relative to the image (0,0 top left, 1,1 bottom right), a width relative
// to the image's width.
type Stroke struct {
	Tool   string       `json:"tool"`  // pen, arrow, circle, text
	Color  string       `json:"color"` // #rrggbb
	Width  float64      `json:"width"`
	Points [][2]float64 `json:"points"` // pen: the path; arrow, circle: two points; text: one
	Text   string       `json:"text,omitempty"`
	Clear  bool         `json:"clear,omitempty"`
}

// Visible returns the strokes a Clear has not wiped: those after the last
// Clear.
func Visible(strokes []Stroke) []Stroke {
	for i := len(strokes) - 1; i >= 0; i-- {
		if strokes[i].Clear {
			return strokes[i+1:]
		}
	}
	return strokes
}

// Drawn collects the strokes of a session's annotation events by the
// media they were drawn on, in the events' order. An event whose payload
// does not decode adds nothing.
func Drawn(events []storage.SessionEvent) map[string][]Stroke {
	drawn := map[string][]Stroke{}
	for _, ev := range events {
		if ev.Kind != storage.EventAnnotation {
			continue
		}
		var p struct {
			Media  string  `json:"media"`
			Stroke *Stroke `json:"stroke"`
		}
		if json.Unmarshal(ev.Payload, &p) != nil || p.Stroke == nil || p.Media == "" {
			continue
		}
		drawn[p.Media] = append(drawn[p.Media], *p.Stroke)
	}
	return drawn
}

// Saved returns the strokes a snapshot was uploaded with, its
// Annotations: {"source": "<media id>", "strokes": [...]}. Annotations
// that are not of that shape hold no strokes.
func Saved(annotations json.RawMessage) []Stroke {
	if len(annotations) == 0 {
		return nil
	}
	var a struct {
		Strokes []Stroke `json:"strokes"`
	}
	if json.Unmarshal(annotations, &a) != nil {
		return nil
	}
	return a.Strokes
}
