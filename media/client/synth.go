package client

import (
	"bytes"
	"encoding/binary"
	"time"
)

// Synthetic payloads carry magic followed by the sender's clock (Unix
// nanoseconds), so that a receiver in the same process can measure the
// delay the network and the SFU add, and by the index of the simulcast
// layer that sent them (0 without simulcast), so that it can tell which
// layer the SFU forwards.
var magic = [4]byte{'S', 'L', 'T', '1'}

const stampSize = len(magic) + 8 + 1

// MaxLayers bounds the simulcast layers a synthetic payload can name.
const MaxLayers = 4

// vp8Payload returns a VP8 RTP payload: a one-byte payload descriptor
// (S set on the frame's first packet, partition 0), a ten-byte frame
// header on the first packet (keyframe start code and a 320x180 size, or
// an inter-frame tag) and the stamp, padded to size bytes.
func vp8Payload(first, key bool, size int, now time.Time) []byte {
	return vp8LayerPayload(first, key, size, now, 0)
}

// vp8LayerPayload is vp8Payload sent by simulcast layer layer.
func vp8LayerPayload(first, key bool, size int, now time.Time, layer int) []byte {
	b := make([]byte, 0, max(size, 1+10+stampSize))
	if first {
		b = append(b, 0x10) // S=1, PID=0
		if key {
			b = append(b, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00)
		} else {
			b = append(b, 0x11, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0)
		}
	} else {
		b = append(b, 0x00)
		b = append(b, make([]byte, 10)...)
	}
	b = appendStamp(b, now, layer)
	for len(b) < size {
		b = append(b, 0xaa)
	}
	return b
}

// opusPayload returns an Opus payload: a TOC byte (CELT fullband 20 ms,
// one frame) and the stamp, padded to size bytes.
func opusPayload(size int, now time.Time) []byte {
	b := make([]byte, 0, max(size, 1+stampSize))
	b = append(b, 0xf8)
	b = appendStamp(b, now, 0)
	for len(b) < size {
		b = append(b, 0x55)
	}
	return b
}

func appendStamp(b []byte, now time.Time, layer int) []byte {
	b = append(b, magic[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(now.UnixNano()))
	return append(b, byte(layer))
}

// stamp finds the send time in a synthetic payload.
func stamp(payload []byte) (time.Time, bool) {
	sent, _, ok := readStamp(payload)
	return sent, ok
}

// readStamp finds the send time and the layer in a synthetic payload.
func readStamp(payload []byte) (sent time.Time, layer int, ok bool) {
	head := payload[:min(len(payload), 32)]
	i := bytes.Index(head, magic[:])
	if i < 0 || i+stampSize > len(payload) {
		return time.Time{}, 0, false
	}
	ns := binary.BigEndian.Uint64(payload[i+len(magic):])
	return time.Unix(0, int64(ns)), int(payload[i+len(magic)+8]), true
}
