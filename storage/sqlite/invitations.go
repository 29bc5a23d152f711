package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"siteline/storage"
)

// The storage.InvitationStore methods, on the invitations and
// terms_acceptances tables of migration 00002 and the guests and
// invitation_deliveries tables of 00004.

var _ storage.InvitationStore = (*Store)(nil)

const invitationColumns = `id, org_id, site_id, kind, token_hash, COALESCE(session_id, ''), created_by,
	invitee_name, invitee_email, invitee_phone, guest_kind, created_at, expires_at, used_at, revoked_at,
	terms_accepted_at, terms_version, subject, goal, team_id`

func scanInvitation(r interface{ Scan(...any) error }) (storage.Invitation, error) {
	var inv storage.Invitation
	var kind string
	err := r.Scan(&inv.ID, &inv.OrgID, &inv.SiteID, &inv.Kind, &inv.TokenHash, &inv.SessionID, &inv.CreatedBy,
		&inv.InviteeName, &inv.InviteeEmail, &inv.InviteePhone, &kind, timeDest{&inv.CreatedAt},
		optTimeDest{&inv.ExpiresAt}, optTimeDest{&inv.UsedAt}, optTimeDest{&inv.RevokedAt},
		optTimeDest{&inv.TermsAcceptedAt}, &inv.TermsVersion, &inv.Subject, &inv.Goal, &inv.TeamID)
	inv.GuestKind = storage.UserKind(kind)
	return inv, err
}

// CreateInvitation stores an invitation and its first deliveries together.
func (s *Store) CreateInvitation(ctx context.Context, inv storage.Invitation, deliveries []storage.Delivery) error {
	if err := required("invitation.id", inv.ID, "invitation.org_id", inv.OrgID, "invitation.site_id", inv.SiteID,
		"invitation.kind", inv.Kind, "invitation.created_by", inv.CreatedBy); err != nil {
		return fmt.Errorf("create invitation %s: %w", inv.ID, err)
	}
	if len(inv.TokenHash) != 32 {
		return fmt.Errorf("create invitation %s: %w", inv.ID, &storage.ValidationError{Field: "invitation.token_hash", Problem: "must be a SHA-256"})
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := exec(ctx, tx, `INSERT INTO invitations (id, org_id, site_id, kind, token_hash, session_id,
			created_by, invitee_name, invitee_email, invitee_phone, created_at, expires_at, subject, goal, team_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.OrgID, inv.SiteID, inv.Kind, inv.TokenHash, nullString(inv.SessionID), inv.CreatedBy,
			inv.InviteeName, inv.InviteeEmail, inv.InviteePhone, nanos(inv.CreatedAt), optNanos(inv.ExpiresAt), inv.Subject, inv.Goal,
			inv.TeamID); err != nil {
			return err
		}
		for _, d := range deliveries {
			if err := insertDelivery(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create invitation %s: %w", inv.ID, err)
	}
	return nil
}

// Invitation returns one invitation, or storage.ErrNotFound.
func (s *Store) Invitation(ctx context.Context, id string) (storage.Invitation, error) {
	inv, err := scanInvitation(s.read.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE id = ?`, id))
	return inv, notFound(err, "invitation "+id)
}

// InvitationByHash finds an invitation by the SHA-256 of its token.
func (s *Store) InvitationByHash(ctx context.Context, hash []byte) (storage.Invitation, error) {
	inv, err := scanInvitation(s.read.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE token_hash = ?`, hash))
	return inv, notFound(err, "invitation by token")
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Invitations lists invitations, newest first.
func (s *Store) Invitations(ctx context.Context, orgID, createdBy string) ([]storage.Invitation, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.Invitation, error) { return scanInvitation(r) },
		`SELECT `+invitationColumns+` FROM invitations WHERE org_id = ? AND (? = '' OR created_by = ?)
		ORDER BY created_at DESC, id`, orgID, createdBy, createdBy)
	if err != nil {
		return nil, fmt.Errorf("invitations of %s: %w", orgID, err)
	}
	return out, nil
}

// RevokeInvitation marks an unused invitation revoked.
func (s *Store) RevokeInvitation(ctx context.Context, id string, at time.Time) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE invitations SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND used_at IS NULL`, nanos(at), id)
		if err != nil {
			return domainError(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM invitations WHERE id = ?`, id).Scan(&exists); errors.Is(err, sql.ErrNoRows) {
				return storage.ErrNotFound
			}
			return fmt.Errorf("it was already used or revoked: %w", storage.ErrConflict)
		}
		// A revoked link is never sent any more.
		return exec(ctx, tx, `UPDATE invitation_deliveries SET status = 'failed', sealed = NULL,
			last_error = 'invitation revoked' WHERE invitation_id = ? AND status = 'pending'`, id)
	})
	if err != nil {
		return fmt.Errorf("revoke invitation %s: %w", id, err)
	}
	return nil
}

// RedeemInvitation marks the link used and stores the guest, the terms
// acceptance and, for a service request, the call.
func (s *Store) RedeemInvitation(ctx context.Context, r storage.Redemption) error {
	g, t := r.Guest, r.Terms
	if err := required("guest.id", g.ID, "guest.session_id", g.SessionID, "terms.id", t.ID, "terms.terms_version", t.TermsVersion); err != nil {
		return fmt.Errorf("redeem invitation %s: %w", r.InvitationID, err)
	}
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		if ss := r.NewSession; ss != nil {
			// A call queued for a team has no owner until a member takes it.
			owner, team := ss.CreatedBy, ""
			if r.Queue != nil {
				owner, team = "", r.Queue.TeamID
			}
			if err := exec(ctx, tx, `INSERT INTO sessions (id, org_id, site_id, kind, name, goal, status, created_by,
				owner_id, team_id, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				ss.ID, ss.OrgID, ss.SiteID, ss.Kind, ss.Name, ss.Goal, ss.Status, ss.CreatedBy, owner, team,
				nanos(ss.StartedAt), nanos(ss.StartedAt)); err != nil {
				return err
			}
			if err := enqueueSessionRecord(ctx, tx, storage.HistorySessionCreated, ss.ID, ss.ID, ss.StartedAt, "", ""); err != nil {
				return err
			}
			if r.Queue != nil {
				if r.QueuedEvent == nil {
					return &storage.ValidationError{Field: "queued_event", Problem: "is required with a queue entry"}
				}
				if err := insertQueueEntry(ctx, tx, *r.Queue, *r.QueuedEvent); err != nil {
					return err
				}
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE invitations SET used_at = ?, session_id = ?, guest_kind = ?,
			terms_accepted_at = ?, terms_version = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`,
			nanos(r.At), g.SessionID, string(g.Kind), nanos(t.AcceptedAt), t.TermsVersion, r.InvitationID)
		if err != nil {
			return domainError(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("link was used or revoked meanwhile: %w", storage.ErrConflict)
		}
		if err := exec(ctx, tx, `INSERT INTO terms_acceptances (id, invitation_id, session_id, user_id,
			terms_version, accepted_at, address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, r.InvitationID, t.SessionID, t.UserID, t.TermsVersion, nanos(t.AcceptedAt), t.Address, t.UserAgent); err != nil {
			return err
		}
		return exec(ctx, tx, `INSERT INTO guests (id, org_id, invitation_id, session_id, kind, name, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, g.ID, g.OrgID, r.InvitationID, g.SessionID, string(g.Kind), g.Name, nanos(g.CreatedAt))
	})
	if err != nil {
		return fmt.Errorf("redeem invitation %s: %w", r.InvitationID, err)
	}
	return nil
}

// TermsAcceptances lists the acceptances recorded for an invitation.
func (s *Store) TermsAcceptances(ctx context.Context, invitationID string) ([]storage.TermsAcceptance, error) {
	return collect(ctx, s.read, func(r *sql.Rows) (storage.TermsAcceptance, error) {
		var t storage.TermsAcceptance
		err := r.Scan(&t.ID, &t.InvitationID, &t.SessionID, &t.UserID, &t.TermsVersion, timeDest{&t.AcceptedAt}, &t.Address, &t.UserAgent)
		return t, err
	}, `SELECT id, invitation_id, session_id, user_id, terms_version, accepted_at, address, user_agent
		FROM terms_acceptances WHERE invitation_id = ? ORDER BY accepted_at`, invitationID)
}

// Guest returns one guest, or storage.ErrNotFound.
func (s *Store) Guest(ctx context.Context, id string) (storage.Guest, error) {
	var g storage.Guest
	var kind string
	err := s.read.QueryRowContext(ctx, `SELECT id, org_id, invitation_id, session_id, kind, name, created_at
		FROM guests WHERE id = ?`, id).Scan(&g.ID, &g.OrgID, &g.InvitationID, &g.SessionID, &kind, &g.Name, timeDest{&g.CreatedAt})
	g.Kind = storage.UserKind(kind)
	return g, notFound(err, "guest "+id)
}

// GuestNames maps the ids of the organisation's guests among ids to the
// names they gave (empty when they gave none); unknown ids are left out.
func (s *Store) GuestNames(ctx context.Context, orgID string, ids []string) (map[string]string, error) {
	names := make(map[string]string, len(ids))
	for start := 0; start < len(ids); start += 500 {
		batch := ids[start:min(start+500, len(ids))]
		args := []any{orgID}
		for _, id := range batch {
			args = append(args, id)
		}
		rows, err := s.read.QueryContext(ctx, `SELECT id, name FROM guests WHERE org_id = ? AND id IN (?`+
			strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("guest names: %w", err)
		}
		for rows.Next() {
			var id, name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, fmt.Errorf("guest names: %w", err)
			}
			names[id] = name
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("guest names: %w", err)
		}
	}
	return names, nil
}

func insertDelivery(ctx context.Context, q querier, d storage.Delivery) error {
	if err := required("delivery.id", d.ID, "delivery.invitation_id", d.InvitationID, "delivery.channel", d.Channel,
		"delivery.recipient", d.Recipient); err != nil {
		return err
	}
	if d.Status == "" {
		d.Status = storage.DeliveryPending
	}
	return exec(ctx, q, `INSERT INTO invitation_deliveries (id, invitation_id, channel, recipient, status,
		attempts, next_attempt_at, last_error, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.InvitationID, d.Channel, d.Recipient, d.Status, d.Attempts, nanos(d.NextAttemptAt), d.LastError,
		d.Sealed, nanos(d.CreatedAt))
}

// AddDelivery queues one more delivery of an invitation.
func (s *Store) AddDelivery(ctx context.Context, d storage.Delivery) error {
	if err := insertDelivery(ctx, s.write, d); err != nil {
		return fmt.Errorf("add delivery %s: %w", d.ID, err)
	}
	return nil
}

const deliveryColumns = `id, invitation_id, channel, recipient, status, attempts, next_attempt_at, last_error,
	sealed, created_at, sent_at`

func scanDelivery(r *sql.Rows) (storage.Delivery, error) {
	var d storage.Delivery
	err := r.Scan(&d.ID, &d.InvitationID, &d.Channel, &d.Recipient, &d.Status, &d.Attempts, timeDest{&d.NextAttemptAt},
		&d.LastError, &d.Sealed, timeDest{&d.CreatedAt}, optTimeDest{&d.SentAt})
	return d, err
}

// Deliveries lists an invitation's deliveries, oldest first.
func (s *Store) Deliveries(ctx context.Context, invitationID string) ([]storage.Delivery, error) {
	out, err := collect(ctx, s.read, scanDelivery, `SELECT `+deliveryColumns+` FROM invitation_deliveries
		WHERE invitation_id = ? ORDER BY created_at, id`, invitationID)
	if err != nil {
		return nil, fmt.Errorf("deliveries of invitation %s: %w", invitationID, err)
	}
	return out, nil
}

// DueDeliveries lists pending deliveries due at now, oldest due first.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]storage.Delivery, error) {
	out, err := collect(ctx, s.read, scanDelivery, `SELECT `+deliveryColumns+` FROM invitation_deliveries
		WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	return out, nil
}

// UpdateDelivery records the outcome of an attempt.
func (s *Store) UpdateDelivery(ctx context.Context, d storage.Delivery) error {
	err := exec(ctx, s.write, `UPDATE invitation_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,
		last_error = ?, sealed = ?, sent_at = ? WHERE id = ?`,
		d.Status, d.Attempts, nanos(d.NextAttemptAt), d.LastError, d.Sealed, optNanos(d.SentAt), d.ID)
	if err != nil {
		return fmt.Errorf("update delivery %s: %w", d.ID, err)
	}
	return nil
}

// OwnedSessions lists the open calls of a kind a user owns.
func (s *Store) OwnedSessions(ctx context.Context, orgID, ownerID, kind string) ([]storage.Session, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.Session, error) {
		var ss storage.Session
		err := r.Scan(&ss.ID, &ss.OrgID, &ss.SiteID, &ss.Kind, &ss.Name, &ss.Goal, &ss.Status, &ss.CreatedBy,
			timeDest{&ss.StartedAt}, optTimeDest{&ss.EndedAt})
		return ss, err
	}, `SELECT id, org_id, site_id, kind, name, goal, status, created_by, started_at, ended_at FROM sessions
		WHERE org_id = ? AND owner_id = ? AND kind = ? AND status <> 'ended' ORDER BY started_at DESC, id`, orgID, ownerID, kind)
	if err != nil {
		return nil, fmt.Errorf("open %s calls of %s: %w", kind, ownerID, err)
	}
	return out, nil
}

// CountOwnedSessions counts the open calls of a kind a user owns, without
// reading their columns or sorting them as OwnedSessions does.
func (s *Store) CountOwnedSessions(ctx context.Context, orgID, ownerID, kind string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sessions
		WHERE org_id = ? AND owner_id = ? AND kind = ? AND status <> 'ended'`, orgID, ownerID, kind).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count open %s calls of %s: %w", kind, ownerID, err)
	}
	return n, nil
}
