package invites

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"siteline/storage"
	"siteline/web"
)

func dead(reason, msg string) error { return &web.DeadLinkError{Reason: reason, Message: msg} }

// lookup finds the invitation of a token, comparing the stored hash in
// constant time.
func (s *Service) lookup(ctx context.Context, token string) (storage.Invitation, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if len(token) != tokenLen || err != nil || len(raw) != tokenBytes {
		return storage.Invitation{}, dead("malformed", "This is not a valid invitation link: it is incomplete or damaged. Copy the whole link from the message you received.")
	}
	sum := sha256.Sum256([]byte(token))
	inv, err := s.store.InvitationByHash(ctx, sum[:])
	if errors.Is(err, storage.ErrNotFound) || err == nil && subtle.ConstantTimeCompare(inv.TokenHash, sum[:]) != 1 {
		return storage.Invitation{}, dead("unknown", "This is not a valid invitation link: no invitation has this address.")
	}
	return inv, err
}

// validity applies the rules of SPEC.md section 2 at the node's clock.
func (s *Service) validity(ctx context.Context, inv storage.Invitation) error {
	now := s.now()
	var call *storage.Session
	var parts []storage.SessionParticipant
	if inv.SessionID != "" && inv.UsedAt == nil {
		c, err := s.store.Session(ctx, inv.SessionID)
		if err != nil {
			return err
		}
		call = &c
		if parts, err = s.store.SessionParticipants(ctx, inv.SessionID); err != nil {
			return err
		}
	}
	return linkValidity(inv, call, parts, now)
}

// linkValidity is the rule itself, on data already read: revoked, used,
// expired (service requests, 24 hours), the call ended, or everyone else
// left the call before the invitee joined (conference invitations).
func linkValidity(inv storage.Invitation, call *storage.Session, parts []storage.SessionParticipant, now time.Time) error {
	switch {
	case inv.RevokedAt != nil:
		return dead("revoked", "This invitation was withdrawn by the person who sent it.")
	case inv.UsedAt != nil:
		return dead("used", "This invitation link has already been used. Each link lets one person in.")
	case inv.ExpiresAt != nil && !now.Before(*inv.ExpiresAt):
		return dead("expired", fmt.Sprintf("This invitation link expired on %s UTC.", inv.ExpiresAt.UTC().Format("2 Jan 2006 at 15:04")))
	}
	if inv.Kind != storage.SessionConference || call == nil {
		return nil
	}
	if call.Status == storage.SessionEnded {
		return dead("call_ended", "The call you were invited to has ended.")
	}
	if t, ok := emptiedAt(parts, inv.CreatedAt); ok && !now.Before(t) {
		return dead("everyone_left", "Everyone else has left the call you were invited to, so the call is over.")
	}
	return nil
}

// emptiedAt returns the first moment, after the invitation was made, at
// which the call had participants and then none: from then on the link is
// dead, even if someone joins again.
func emptiedAt(parts []storage.SessionParticipant, since time.Time) (time.Time, bool) {
	type edge struct {
		at   time.Time
		join bool
	}
	var edges []edge
	for _, p := range parts {
		edges = append(edges, edge{p.JoinedAt, true})
		if p.LeftAt != nil {
			edges = append(edges, edge{*p.LeftAt, false})
		}
	}
	// Order by time; at the same instant, joins first.
	for i := 1; i < len(edges); i++ {
		for j := i; j > 0 && (edges[j].at.Before(edges[j-1].at) || edges[j].at.Equal(edges[j-1].at) && edges[j].join && !edges[j-1].join); j-- {
			edges[j], edges[j-1] = edges[j-1], edges[j]
		}
	}
	active := 0
	for _, e := range edges {
		if e.join {
			active++
			continue
		}
		active--
		if active == 0 && !e.at.Before(since) {
			return e.at, true
		}
	}
	return time.Time{}, false
}
