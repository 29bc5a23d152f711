package sfu

import (
	"context"
	"fmt"
	"sort"

	"github.com/pion/sdp/v3"
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
// subscribes. The participant stays until Leave.
func (s *SFU) Publish(ctx context.Context, roomID string, info ParticipantInfo, offer string) (*Participant, string, error) {
	kinds, err := sendingKinds(offer)
	if err != nil {
		return nil, "", fmt.Errorf("whip publish to room %s: %w", roomID, err)
	}
	if len(kinds) == 0 {
		return nil, "", fmt.Errorf("whip publish to room %s: the offer sends no audio or video: %w", roomID, storage.ErrInvalid)
	}
	for _, perm := range publishPermissions(kinds) {
		if err := s.cfg.Authorizer.Check(info.UserID, perm); err != nil {
			return nil, "", fmt.Errorf("whip publish to room %s: %w", roomID, err)
		}
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

// Play joins room roomID as a WHEP player: the offer's receive-only audio
// and video sections are given the room's current tracks of that kind, in
// order of track id, and the answer is returned without trickle. Tracks
// published later are not added (WHEP has no server-side renegotiation).
func (s *SFU) Play(ctx context.Context, roomID string, info ParticipantInfo, offer string) (*Participant, string, error) {
	want, err := receivingSections(offer)
	if err != nil {
		return nil, "", fmt.Errorf("whep play of room %s: %w", roomID, err)
	}
	info.Hidden = false
	p, err := s.joinDirect(ctx, roomID, info)
	if err != nil {
		return nil, "", fmt.Errorf("whep play: %w", err)
	}
	answer, err := p.answerDirect(ctx, offer, func() error {
		for _, t := range p.room.tracksFor(p, want) {
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

// tracksFor picks, for each kind, up to want[kind] tracks of others, in
// order of track id.
func (r *Room) tracksFor(p *Participant, want map[string]int) []*upTrack {
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
	taken := map[string]int{}
	for _, t := range list {
		k := t.kind.String()
		if taken[k] < want[k] {
			taken[k]++
			out = append(out, t)
		}
	}
	return out
}

// receivingSections counts the audio and video sections of an offer that
// may receive (recvonly or sendrecv).
func receivingSections(offer string) (map[string]int, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return nil, fmt.Errorf("parse offer: %w: %v", storage.ErrInvalid, err)
	}
	n := map[string]int{}
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if kind != "audio" && kind != "video" || md.MediaName.Port.Value == 0 {
			continue
		}
		receiving := true
		for _, a := range md.Attributes {
			if a.Key == "sendonly" || a.Key == "inactive" {
				receiving = false
			}
		}
		if receiving {
			n[kind]++
		}
	}
	if n["audio"]+n["video"] == 0 {
		return nil, fmt.Errorf("the offer receives no audio or video: %w", storage.ErrInvalid)
	}
	return n, nil
}
