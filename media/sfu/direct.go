package sfu

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"siteline/media/signal"
	"siteline/storage"
)

// Done is closed when the participant has left or been disconnected (its
// own leave, the room's end, a slow consumer, Shutdown).
func (p *Participant) Done() <-chan struct{} { return p.done }

// Publish joins room roomID as a WHIP publisher: a participant whose only
// exchange is offer, which must send media, answered on its publish
// connection without trickle (the answer holds every candidate). It never
// subscribes. The participant stays until Leave, or until its connection
// fails or does not connect within Config.DirectTimeout (watchDirect).
func (s *SFU) Publish(ctx context.Context, roomID string, info ParticipantInfo, offer string) (*Participant, string, error) {
	sections, err := offerSections(offer)
	if err != nil {
		return nil, "", fmt.Errorf("whip publish to room %s: %w", roomID, err)
	}
	kinds, _ := sendingKinds(offer)
	if len(kinds) == 0 {
		return nil, "", fmt.Errorf("whip publish to room %s: the offer sends no audio or video: %w", roomID, storage.ErrInvalid)
	}
	for _, perm := range publishPermissions(kinds) {
		if err := s.cfg.Authorizer.Check(info.UserID, perm); err != nil {
			return nil, "", fmt.Errorf("whip publish to room %s: %w", roomID, err)
		}
	}
	if err := checkCodecs(sections, func(sec offerSection) bool { return sec.sending }); err != nil {
		return nil, "", fmt.Errorf("whip publish to room %s: %w", roomID, err)
	}
	info.Hidden = false
	p, err := s.joinDirect(ctx, roomID, info)
	if err != nil {
		return nil, "", fmt.Errorf("whip publish: %w", err)
	}
	answer, err := p.answerDirect(ctx, offer, nil)
	if err != nil {
		p.Leave()
		return nil, "", fmt.Errorf("whip publish to room %s: %w", roomID, err)
	}
	return p, answer, nil
}

// Play joins room roomID as a WHEP player: each receiving audio or video
// section of the offer, bundle-only ones included, is given one of the
// room's current tracks of its kind in a codec it offers, in order of
// track id, and the answer is returned without trickle. Tracks published
// later are not added (WHEP has no server-side renegotiation). An offer
// that can take none of the published tracks of a kind it asks for is
// refused with storage.ErrUnsupported, naming the codecs on both sides.
func (s *SFU) Play(ctx context.Context, roomID string, info ParticipantInfo, offer string) (*Participant, string, error) {
	sections, err := offerSections(offer)
	if err != nil {
		return nil, "", fmt.Errorf("whep play of room %s: %w", roomID, err)
	}
	var receiving []offerSection
	for _, sec := range sections {
		if sec.receiving {
			receiving = append(receiving, sec)
		}
	}
	if len(receiving) == 0 {
		return nil, "", fmt.Errorf("whep play of room %s: the offer receives no audio or video: %w", roomID, storage.ErrInvalid)
	}
	if err := checkCodecs(receiving, func(offerSection) bool { return true }); err != nil {
		return nil, "", fmt.Errorf("whep play of room %s: %w", roomID, err)
	}
	info.Hidden = false
	p, err := s.joinDirect(ctx, roomID, info)
	if err != nil {
		return nil, "", fmt.Errorf("whep play: %w", err)
	}
	answer, err := p.answerDirect(ctx, offer, func() error {
		tracks, err := p.room.tracksFor(p, receiving)
		if err != nil {
			return err
		}
		for _, t := range tracks {
			if err := p.subscribeDirect(t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		p.Leave()
		return nil, "", fmt.Errorf("whep play of room %s: %w", roomID, err)
	}
	return p, answer, nil
}

// checkCodecs refuses an offer with a section, among those picked, in
// none of the codecs the SFU takes, naming what it offered and what is
// supported.
func checkCodecs(sections []offerSection, picked func(offerSection) bool) error {
	for i, sec := range sections {
		if !picked(sec) {
			continue
		}
		supported := supportedCodecs(sec.kind)
		ok := false
		for _, c := range sec.codecs {
			ok = ok || containsFold(supported, c)
		}
		if !ok {
			return fmt.Errorf("%w: %s section %d offers %s; this server takes %s",
				storage.ErrUnsupported, sec.kind, i, listOrNone(sec.codecs), strings.Join(supported, ", "))
		}
	}
	return nil
}

// watchDirect removes a WHIP or WHEP participant whose publish connection
// fails or closes, does not connect within timeout, or stays disconnected
// for timeout: no DELETE will come from a client that was killed or lost
// its network, and its tracks must not stay in the room.
func (p *Participant) watchDirect(timeout time.Duration) {
	changed := make(chan struct{}, 1)
	p.up.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.sfu.log.Debug("publish connection", "participant", p.id, "state", st)
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	p.sfu.goroutine(func() {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		waiting := true // for a first connection, or a reconnection
		for {
			select {
			case <-p.done:
				return
			case <-changed:
			case <-timer.C:
				p.sfu.log.Info("whip/whep session removed: its connection did not come up", "participant", p.id, "timeout", timeout)
				p.Leave()
				return
			}
			switch st := p.up.ConnectionState(); st {
			case webrtc.PeerConnectionStateConnected:
				if waiting {
					timer.Stop()
					waiting = false
				}
			case webrtc.PeerConnectionStateDisconnected:
				if !waiting {
					timer.Reset(timeout)
					waiting = true
				}
			case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
				p.sfu.log.Info("whip/whep session removed: its connection ended", "participant", p.id, "state", st)
				p.Leave()
				return
			}
		}
	})
}

// joinDirect is Join for a WHIP or WHEP participant: no messages are sent
// to it and it has no subscribe connection.
func (s *SFU) joinDirect(ctx context.Context, roomID string, info ParticipantInfo) (*Participant, error) {
	if err := s.cfg.Authorizer.Check(info.UserID, signal.PermJoin); err != nil {
		return nil, fmt.Errorf("join room %s: %w", roomID, err)
	}
	if info.ID == "" {
		info.ID = randomID()
	}
	s.mu.Lock()
	started, closed := s.started, s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return nil, fmt.Errorf("join room %s: %w", roomID, ErrClosed)
	case !started:
		return nil, fmt.Errorf("join room %s: %w", roomID, ErrNotStarted)
	}
	p, err := newParticipant(s, info, func(signal.Message) error { return nil })
	if err != nil {
		return nil, fmt.Errorf("join room %s: %w", roomID, err)
	}
	p.direct = true
	if _, err := p.publishConn(); err != nil {
		p.close()
		return nil, fmt.Errorf("join room %s: %w", roomID, err)
	}
	p.watchDirect(s.cfg.DirectTimeout)
	for {
		r := s.room(roomID)
		if r == nil {
			p.close()
			return nil, fmt.Errorf("join room %s: %w", roomID, ErrClosed)
		}
		if err := r.add(p); err == errRoomEnded {
			continue
		} else if err != nil {
			p.close()
			return nil, fmt.Errorf("join room %s: %w", roomID, err)
		}
		return p, nil
	}
}

// answerDirect applies a remote offer on the publish connection, runs
// before (if any) to add tracks, and returns the answer once ICE
// gathering is complete.
func (p *Participant) answerDirect(ctx context.Context, offer string, before func() error) (string, error) {
	p.handleMu.Lock()
	defer p.handleMu.Unlock()
	if err := p.up.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("set offer: %w: %v", storage.ErrInvalid, err)
	}
	if before != nil {
		if err := before(); err != nil {
			return "", err
		}
	}
	answer, err := p.up.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(p.up)
	if err := p.up.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("set answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("gather candidates: %w", ctx.Err())
	}
	return p.up.LocalDescription().SDP, nil
}

// subscribeDirect sends t on the publish connection of a WHEP player.
func (p *Participant) subscribeDirect(t *upTrack) error {
	local, err := webrtc.NewTrackLocalStaticRTP(t.codec, t.id, t.owner.id)
	if err != nil {
		return fmt.Errorf("track %s: %w", t.id, err)
	}
	p.mu.Lock()
	if p.closed() || p.downs[t.id] != nil {
		p.mu.Unlock()
		return nil
	}
	sender, err := p.up.AddTrack(local)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("add track %s: %w", t.id, err)
	}
	d := newDownTrack(p, t, local, sender)
	p.downs[t.id] = d
	p.mu.Unlock()
	d.start()
	t.addSubscriber(d)
	return nil
}

// tracksFor gives each receiving section of a WHEP offer, in order, the
// first track of others of its kind, in order of track id, in a codec the
// section offers. pion gives added tracks to the offer's free sections of
// their kind in order, so the first section of a kind that gets no track
// ends that kind. A kind the offer receives and the room publishes, of
// which no track fits, is refused with storage.ErrUnsupported.
func (r *Room) tracksFor(p *Participant, receiving []offerSection) ([]*upTrack, error) {
	r.mu.Lock()
	list := make([]*upTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		if t.owner != p && r.seesLocked(p, t) {
			list = append(list, t)
		}
	}
	r.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	var out []*upTrack
	taken := map[*upTrack]bool{}
	ended := map[string]bool{}
	for _, sec := range receiving {
		if ended[sec.kind] {
			continue
		}
		var pick *upTrack
		for _, t := range list {
			if !taken[t] && t.kind.String() == sec.kind && containsFold(sec.codecs, codecName(t)) {
				pick = t
				break
			}
		}
		if pick == nil {
			ended[sec.kind] = true
			continue
		}
		taken[pick] = true
		out = append(out, pick)
	}
	for _, kind := range []string{"audio", "video"} {
		offered, published := map[string]bool{}, map[string]bool{}
		got := false
		for _, sec := range receiving {
			if sec.kind == kind {
				for _, c := range sec.codecs {
					offered[c] = true
				}
			}
		}
		for _, t := range list {
			if t.kind.String() == kind {
				published[codecName(t)] = true
			}
		}
		for _, t := range out {
			got = got || t.kind.String() == kind
		}
		if len(offered) > 0 && len(published) > 0 && !got {
			return nil, fmt.Errorf("%w: the offer receives %s in %s; the call publishes it in %s",
				storage.ErrUnsupported, kind, strings.Join(sortedKeys(offered), ", "), strings.Join(sortedKeys(published), ", "))
		}
	}
	return out, nil
}

// codecName is the encoding name of a track's codec: "VP8", "opus".
func codecName(t *upTrack) string {
	_, name, _ := strings.Cut(t.codec.MimeType, "/")
	return name
}
