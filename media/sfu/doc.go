// Package sfu is Siteline's selective forwarding unit: rooms of
// participants who publish audio and video to the node and receive every
// other participant's tracks from it, over pion/webrtc.
//
// Each participant has two peer connections, as in ion-sfu: "publish",
// which the participant offers and the SFU answers, and "subscribe", which
// the SFU offers and the participant answers and which also carries the
// "chat" data channel. Keeping the two apart means neither side ever has
// to resolve offer collisions.
//
// Every published track is read by one goroutine that hands each packet to
// the track's subscribers (a copy-on-write list). Each subscriber has its
// own queue and writer goroutine: a slow subscriber loses packets from its
// own queue (counted) and never slows the reader or the others. Writers
// rewrite sequence numbers and timestamps so that a subscriber can switch
// simulcast layers on a keyframe without the receiver seeing a jump.
//
// NACKs, RTCP reports and transport-wide congestion control come from pion
// interceptors; keyframe requests (PLI, FIR) from subscribers are forwarded
// to the publisher, throttled. All calls share one UDP port (ICE UDP mux)
// and, optionally, one TCP port (ICE-TCP).
//
// The SFU does not read sockets: the web layer calls Join with a
// participant's join message and Handle with every later message, and
// gives a send function for messages to the participant.
package sfu
