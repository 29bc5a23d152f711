package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// The fields people give a session after the call, each group with the
// version of its last change (the sessions table's <group>_at and
// <group>_origin). A setter applies its change only when the version is
// later than the stored one, so the history applier can apply the same
// change any number of times and in any order; a change that applied goes
// to the history outbox in its transaction, as in storage/sqlite.

// OrgLabels reads an organisation's labels from where organisation data
// lives (the node's SQLite store, which Raft writes; storage.OrgReader
// has this method). This database holds no labels, and a session's labels
// must be its organisation's.
type OrgLabels interface {
	Labels(ctx context.Context, orgID string) ([]storage.Label, error)
}

// errNoLabels: the store was opened without Options.Labels. Not
// storage.ErrInvalid: the configuration is at fault, not the change, so
// the history applier retries it rather than rejecting it for good.
var errNoLabels = errors.New("the store cannot check label ids: it was opened without Options.Labels")

// SetSessionDetails sets a session's name and goal if v is later than
// their last change; it reports whether it did.
func (s *Store) SetSessionDetails(ctx context.Context, sessionID, name, goal string, v storage.Version) (bool, error) {
	return s.setFields(ctx, sessionID, storage.SessionFields{Group: storage.FieldsDetails, Version: v, Name: name, Goal: goal})
}

// SetSessionOutcome sets a session's outcome and solved time if v is later
// than their last change; it reports whether it did. The solved time is
// kept with any outcome (the caller knows which of the organisation's
// outcomes count as solved), and for storage.OutcomeSolved defaults to
// v.At; it may not be before the session started. An empty outcome clears
// both.
func (s *Store) SetSessionOutcome(ctx context.Context, sessionID, outcome string, solvedAt *time.Time, v storage.Version) (bool, error) {
	return s.setFields(ctx, sessionID, storage.SessionFields{Group: storage.FieldsOutcome, Version: v, Outcome: outcome, SolvedAt: solvedAt})
}

// SetSessionNotes sets a session's notes if v is later than their last
// change; it reports whether it did.
func (s *Store) SetSessionNotes(ctx context.Context, sessionID, notes string, v storage.Version) (bool, error) {
	return s.setFields(ctx, sessionID, storage.SessionFields{Group: storage.FieldsNotes, Version: v, Notes: notes})
}

// SetSessionLabels replaces a session's labels with labelIDs if v is later
// than their last change; it reports whether it did. Every id must be a
// label of the session's organisation, as Options.Labels lists them.
func (s *Store) SetSessionLabels(ctx context.Context, sessionID string, labelIDs []string, v storage.Version) (bool, error) {
	return s.setFields(ctx, sessionID, storage.SessionFields{Group: storage.FieldsLabels, Version: v, Labels: labelIDs})
}

// setFields applies change f in one transaction and, when it applied,
// adds its session.fields record to the history outbox in that
// transaction.
func (s *Store) setFields(ctx context.Context, sessionID string, f storage.SessionFields) (bool, error) {
	var applied bool
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		applied = false
		ok, err := s.applyFieldsTx(ctx, tx, sessionID, f)
		if err != nil || !ok {
			return err
		}
		applied = true
		ss, err := sessionIn(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		return enqueueHistory(ctx, tx, f.Version.At, storage.HistoryRecord{
			ID: fieldsRecordID(sessionID, f), Kind: storage.HistoryFields, Session: &ss, Fields: &f})
	})
	if err != nil {
		return false, fmt.Errorf("set %s of session %s: %w", f.Group, sessionID, err)
	}
	return applied, nil
}

// fieldsRecordID names the history record of one change: the same change
// has the same id wherever it is applied (storage/sqlite names it alike).
func fieldsRecordID(sessionID string, f storage.SessionFields) string {
	return fmt.Sprintf("%s/%s/%d/%s", sessionID, f.Group, f.Version.At.UnixNano(), f.Version.Origin)
}

// applyFieldsTx applies change f to a session inside tx if its version is
// later than the group's last change; it reports whether it did.
func (s *Store) applyFieldsTx(ctx context.Context, tx pgx.Tx, sessionID string, f storage.SessionFields) (bool, error) {
	v := f.Version
	if v.At.IsZero() {
		return false, &storage.ValidationError{Field: "version.at", Problem: "is required"}
	}
	switch f.Group {
	case storage.FieldsDetails:
		// goal_key is the goal as the dashboards count it (migration 00010).
		return bumpVersion(ctx, tx, sessionID, "details", v, `name = $5, goal = $6, goal_key = $7`, f.Name, f.Goal, storage.GoalKey(f.Goal))
	case storage.FieldsNotes:
		return bumpVersion(ctx, tx, sessionID, "notes", v, `notes = $5`, f.Notes)
	case storage.FieldsOutcome:
		return applyOutcomeTx(ctx, tx, sessionID, f.Outcome, f.SolvedAt, v)
	case storage.FieldsLabels:
		return s.applyLabelsTx(ctx, tx, sessionID, f.Labels, v)
	}
	return false, &storage.ValidationError{Field: "group", Problem: fmt.Sprintf("%q is not a group of session fields", f.Group)}
}

func applyOutcomeTx(ctx context.Context, tx pgx.Tx, sessionID, outcome string, solvedAt *time.Time, v storage.Version) (bool, error) {
	if (outcome != "" || solvedAt != nil) && (outcome == "" || !storage.ValidOutcome(outcome)) {
		return false, &storage.ValidationError{Field: "outcome",
			Problem: fmt.Sprintf("%q must be 1 to 64 lower-case letters, digits or underscores", outcome)}
	}
	var solved *time.Time
	switch {
	case solvedAt != nil:
		solved = solvedAt
	case outcome == storage.OutcomeSolved:
		solved = &v.At
	}
	var started int64
	err := tx.QueryRow(ctx, `SELECT started_at FROM sessions WHERE id = $1`, sessionID).Scan(&started)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("session %s: %w", sessionID, storage.ErrNotFound)
	} else if err != nil {
		return false, err
	}
	if solved != nil && solved.Before(time.Unix(0, started)) {
		return false, &storage.ValidationError{Field: "solved_at", Problem: "is before the session started"}
	}
	return bumpVersion(ctx, tx, sessionID, "outcome", v, `outcome = $5, solved_at = $6::bigint`, outcome, optNanos(solved))
}

func (s *Store) applyLabelsTx(ctx context.Context, tx pgx.Tx, sessionID string, labelIDs []string, v storage.Version) (bool, error) {
	ids := slices.Clone(labelIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var org string
	err := tx.QueryRow(ctx, `SELECT org_id FROM sessions WHERE id = $1`, sessionID).Scan(&org)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("session %s: %w", sessionID, storage.ErrNotFound)
	} else if err != nil {
		return false, err
	}
	if len(ids) > 0 {
		if s.labels == nil {
			return false, errNoLabels
		}
		known, err := s.labels.Labels(ctx, org)
		if err != nil {
			return false, fmt.Errorf("labels of organisation %s: %w", org, err)
		}
		for _, id := range ids {
			if !slices.ContainsFunc(known, func(l storage.Label) bool { return l.ID == id && l.OrgID == org }) {
				return false, &storage.ValidationError{Field: "labels", Problem: fmt.Sprintf("%q is not a label of organisation %s", id, org)}
			}
		}
	}
	ok, err := bumpVersion(ctx, tx, sessionID, "labels", v, "")
	if err != nil || !ok {
		return false, err
	}
	if err := exec(ctx, tx, `DELETE FROM session_labels WHERE session_id = $1`, sessionID); err != nil {
		return false, err
	}
	if len(ids) > 0 {
		if err := exec(ctx, tx, `INSERT INTO session_labels (session_id, label_id) SELECT $1, unnest($2::text[])`, sessionID, ids); err != nil {
			return false, err
		}
	}
	return true, nil
}

// bumpVersion sets group's version (and the columns of set, whose
// parameters are $5 on, if any) when v is later than the stored one. It
// reports whether it did; a missing session is storage.ErrNotFound.
func bumpVersion(ctx context.Context, tx pgx.Tx, sessionID, group string, v storage.Version, set string, args ...any) (bool, error) {
	at, origin := group+"_at", group+"_origin"
	if set != "" {
		set += ", "
	}
	q := `UPDATE sessions SET ` + set + at + ` = $1, ` + origin + ` = $2, updated_at = GREATEST(COALESCE(updated_at, 0), $1)
		WHERE id = $3 AND (` + at + ` IS NULL OR ` + at + ` < $1 OR (` + at + ` = $1 AND ` + origin + ` < $4))`
	tag, err := tx.Exec(ctx, q, append([]any{nanos(v.At), v.Origin, sessionID, v.Origin}, args...)...)
	if err != nil {
		return false, domainError(err)
	}
	if tag.RowsAffected() > 0 {
		return true, nil
	}
	return false, sessionExists(ctx, tx, sessionID)
}

// SessionSummary returns one session of an organisation as the history
// lists it; another organisation's is storage.ErrNotFound.
func (s *Store) SessionSummary(ctx context.Context, orgID, id string) (storage.SessionSummary, error) {
	var ss storage.SessionSummary
	var started, ended, solved *int64
	err := s.pool.QueryRow(ctx, `SELECT id, org_id, site_id, kind, name, goal, status, created_by, owner_id,
		outcome, notes, started_at, ended_at, solved_at FROM sessions WHERE id = $1 AND org_id = $2`, id, orgID).Scan(
		&ss.ID, &ss.OrgID, &ss.SiteID, &ss.Kind, &ss.Name, &ss.Goal, &ss.Status, &ss.CreatedBy, &ss.OwnerID,
		&ss.Outcome, &ss.Notes, &started, &ended, &solved)
	if errors.Is(err, pgx.ErrNoRows) {
		return ss, fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return ss, fmt.Errorf("session %s: %w", id, err)
	}
	ss.StartedAt, ss.EndedAt, ss.SolvedAt = timeOf(started), optTimeOf(ended), optTimeOf(solved)
	rows, _ := s.pool.Query(ctx, `SELECT label_id FROM session_labels WHERE session_id = $1 ORDER BY label_id`, id)
	ss.Labels, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return ss, fmt.Errorf("session %s: labels: %w", id, err)
	}
	if ss.Labels == nil {
		ss.Labels = []string{}
	}
	return ss, nil
}
