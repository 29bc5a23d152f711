// Package signal defines Siteline's call signaling protocol: versioned JSON
// messages exchanged between a participant and the SFU over a WebSocket (or
// any other ordered transport).
//
// Every message is one JSON object, the envelope, with the protocol version,
// the message type and an optional request id:
//
//	{"v":1,"type":"join","id":"1","room":"s-42"}
//
// The other fields depend on the type (see [Message]). [Decode] checks one
// message on its own (size, syntax, version, type, required fields);
// [Stream] also checks the order of the messages of one connection, so that,
// for example, an offer before join is refused.
//
// Media travels on two peer connections per participant, as in ion-sfu: the
// "publish" connection, where the participant offers and the SFU answers,
// and the "subscribe" connection, where the SFU offers and the participant
// answers. Offers, answers, candidates and ICE restarts name their target.
// A video section of a publish offer marked a=content:slides (RFC 4796) is
// a screen share, which needs PermScreenShare.
package signal
