// Package sfu is Siteline's selective forwarding unit: rooms of
// participants who publish audio and video to the node and receive every
// other participant's tracks from it, over pion/webrtc.
//
// Each participant has two peer connections, as in ion-sfu: "publish",
// which the participant offers and the SFU answers, and "subscribe", which
// the SFU offers and the participant answers. Keeping the two apart means
// neither side ever has to resolve offer collisions. Neither carries a
// data channel: chat and the in-call tools go over the signaling socket,
// which every participant has anyway, so that no participant holds an
// SCTP association (four goroutines and its buffers) for them.
//
// Every published track is read by one goroutine that hands each packet to
// the track's writers (writer.go): about √n goroutines for n subscribers,
// each with its own queue, sending to a few subscribers in turn. A writer
// that falls behind loses packets from its queue (counted) and never slows
// the reader or the other writers. Writers rewrite sequence numbers and
// timestamps so that a subscriber can switch simulcast layers on a
// keyframe without the receiver seeing a jump.
//
// The SFU asks publishers for lost packets (pion's NACK generator) and
// resends what subscribers lose from one cache per layer (the last second
// of packets); RTCP reports come from pion interceptors, each connection
// with only those of its direction (api.go), and so does a subscriber's
// bandwidth estimate (GCC over transport-wide feedback, on video), which
// runs only while the subscriber receives a simulcast track, its one use
// (stamp.go). Keyframe requests (PLI, FIR) from subscribers
// are forwarded to the publisher, throttled. All calls share one UDP port
// (ICE UDP mux) and, optionally, one TCP port (ICE-TCP).
//
// Beyond forwarding, a room relays chat and annotations (strokes drawn on
// a snapshot, pointer positions), rate-limited per participant and checked
// against the Authorizer; records every publisher to WebM files
// (recording.go, media/record) when asked; and takes hidden participants,
// supervisors who receive every track and the chat but may neither publish
// nor chat and are never announced, while the others are told that the
// call is monitored (ParticipantInfo.Hidden).
//
// The SFU reads no signaling socket: the caller
// (node's call service, behind web's WebSocket handler) calls Join with a
// participant's join message, gives a send function for messages to the
// participant and calls Handle with every later message; Publish and Play
// answer a WHIP or WHEP offer in one step (direct.go).
package sfu
