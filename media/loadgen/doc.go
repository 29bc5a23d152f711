// Package loadgen puts an SFU under load with the Go participants of
// media/client: it opens rooms of one publisher (synthetic VP8-like video
// and Opus-like audio, each packet carrying its send time) and M
// subscribers each, waits until every subscriber receives, measures a
// window and reports the forwarded throughput, loss, jitter, added
// latency, the time from join to the first video packet and, given the
// server's PID, its CPU and memory from /proc.
//
// The server under test is pluggable: a Server opens the rooms and each
// participant's signaling connection, so the same client, media and room
// shapes measure Siteline (cmd/siteline-load) and the references it is
// compared with (Galène there, LiveKit in cmd/livekit-load, a module of
// its own so that LiveKit's libraries stay out of this one).
package loadgen
