package sfu

import (
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"strings"
)

// Hysteresis of the layer choice: move up only when the budget exceeds the
// higher layer's rate by upMargin; stay on a layer while the budget is at
// least downMargin of its rate.
const (
	upMargin   = 1.25
	downMargin = 0.9
)

// chooseLayer picks the simulcast layer to send given each layer's
// measured rate (bits/s, 0 for a layer not seen yet), the current choice
// (-1 for none) and the budget (bits/s). It picks the best layer that fits,
// with hysteresis; when nothing fits it picks the cheapest layer.
func chooseLayer(rates []float64, current int, budget float64) int {
	best, cheapest := -1, -1
	for i, r := range rates {
		if r <= 0 {
			continue
		}
		if cheapest < 0 || r < rates[cheapest] {
			cheapest = i
		}
		need := r * upMargin
		if i == current {
			need = r * downMargin
		}
		if budget >= need && (best < 0 || r > rates[best]) {
			best = i
		}
	}
	switch {
	case best >= 0:
		return best
	case cheapest >= 0:
		return cheapest
	case current >= 0:
		return current
	case len(rates) > 0:
		return 0
	}
	return -1
}

// isKeyframe reports whether pkt starts a keyframe of the given codec.
// It recognises VP8, VP9 and H.264; for other codecs it answers true, so
// that switching never waits forever.
func isKeyframe(mime string, pkt *rtp.Packet) bool {
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		var vp8 codecs.VP8Packet
		if _, err := vp8.Unmarshal(pkt.Payload); err != nil || len(vp8.Payload) == 0 {
			return false
		}
		return vp8.S == 1 && vp8.PID == 0 && vp8.Payload[0]&0x01 == 0
	case strings.EqualFold(mime, webrtc.MimeTypeVP9):
		var vp9 codecs.VP9Packet
		if _, err := vp9.Unmarshal(pkt.Payload); err != nil {
			return false
		}
		return !vp9.P && vp9.B && vp9.SID == 0
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		return h264Keyframe(pkt.Payload)
	}
	return true
}

// h264Keyframe looks for an IDR slice or SPS at the start of an H.264
// payload: single NAL, STAP-A or the first fragment of an FU-A.
func h264Keyframe(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	switch nal := b[0] & 0x1f; {
	case nal == 5 || nal == 7:
		return true
	case nal == 24: // STAP-A
		for i := 1; i+2 < len(b); {
			size := int(b[i])<<8 | int(b[i+1])
			i += 2
			if i >= len(b) {
				break
			}
			if t := b[i] & 0x1f; t == 5 || t == 7 {
				return true
			}
			i += size
		}
	case nal == 28: // FU-A
		return len(b) > 1 && b[1]&0x80 != 0 && (b[1]&0x1f == 5 || b[1]&0x1f == 7)
	}
	return false
}
