package sfu

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func TestChooseLayer(t *testing.T) {
	rates := []float64{150e3, 500e3, 1500e3} // q, h, f
	tests := []struct {
		name    string
		rates   []float64
		current int
		budget  float64
		want    int
	}{
		{"plenty", rates, -1, 5e6, 2},
		{"fits middle", rates, -1, 1e6, 1},
		{"nothing fits: cheapest", rates, 2, 50e3, 0},
		{"no upswitch without margin", rates, 1, 1.6e6, 1},
		{"upswitch with margin", rates, 1, 1.9e6, 2},
		{"stay while within margin", rates, 2, 1.4e6, 2},
		{"down when below margin", rates, 2, 1.3e6, 1},
		{"unmeasured layers skipped", []float64{0, 500e3, 0}, -1, 5e6, 1},
		{"nothing measured keeps current", []float64{0, 0}, 1, 5e6, 1},
		{"nothing measured, no current", []float64{0, 0}, -1, 5e6, 0},
		{"no layers", nil, -1, 5e6, -1},
	}
	for _, tt := range tests {
		if got := chooseLayer(tt.rates, tt.current, tt.budget); got != tt.want {
			t.Errorf("%s: chooseLayer = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestIsKeyframe(t *testing.T) {
	tests := []struct {
		name    string
		mime    string
		payload []byte
		want    bool
	}{
		{"vp8 key", webrtc.MimeTypeVP8, []byte{0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, true},
		{"vp8 inter", webrtc.MimeTypeVP8, []byte{0x10, 0x11, 0x02, 0x00}, false},
		{"vp8 continuation", webrtc.MimeTypeVP8, []byte{0x00, 0x10, 0x02}, false},
		{"h264 idr", webrtc.MimeTypeH264, []byte{0x65, 0x88}, true},
		{"h264 sps in stap-a", webrtc.MimeTypeH264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 fu-a idr start", webrtc.MimeTypeH264, []byte{0x7c, 0x85}, true},
		{"h264 fu-a idr middle", webrtc.MimeTypeH264, []byte{0x7c, 0x05}, false},
		{"h264 p slice", webrtc.MimeTypeH264, []byte{0x41, 0x9a}, false},
		{"opus", webrtc.MimeTypeOpus, []byte{0xf8}, true},
	}
	for _, tt := range tests {
		if got := isKeyframe(tt.mime, &rtp.Packet{Payload: tt.payload}); got != tt.want {
			t.Errorf("%s: isKeyframe = %v, want %v", tt.name, got, tt.want)
		}
	}
}
