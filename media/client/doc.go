// Package client is a Go participant for Siteline calls, built on
// pion/webrtc: it joins a room through a Signaler, publishes synthetic
// audio and video (RTP packets with valid Opus and VP8 payload headers
// and a send timestamp inside), and receives every track the SFU sends,
// counting packets, sequence gaps, jitter and forwarding latency. Tests
// and the load generator use it; it carries no real codec.
package client
