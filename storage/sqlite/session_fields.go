package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"siteline/storage"
)

// The fields people give a session after the call, each with the version
// of its last change (migration 00013). A setter applies its change only
// when the version is later than the stored one, so the history forwarder
// can apply the same change any number of times and in any order.
//
// A change made here is site history: it goes to the history outbox in
// its own transaction, and headquarters applies it (history_apply.go).

var _ storage.SessionHistoryStore = (*Store)(nil)

// SetSessionDetails sets a session's name and goal if v is later than
// their last change; it reports whether it did.
func (s *Store) SetSessionDetails(ctx context.Context, sessionID, name, goal string, v storage.Version) (bool, error) {
	return s.setFields(ctx, sessionID, storage.SessionFields{Group: storage.FieldsDetails, Version: v, Name: name, Goal: goal})
}

// SetSessionOutcome sets a session's outcome and solved time if v is later
// than their last change; it reports whether it did. The solved time is
// kept with any outcome that counts as solved (the caller knows the
// organisation's outcomes and passes it), and for OutcomeSolved defaults
// to v.At; it may not be before the session started. An empty outcome
// clears both.
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
// label of the session's organisation.
func (s *Store) SetSessionLabels(ctx context.Context, sessionID string, labelIDs []string, v storage.Version) (bool, error) {
	return s.setFields(ctx, sessionID, storage.SessionFields{Group: storage.FieldsLabels, Version: v, Labels: labelIDs})
}

// setFields applies change f in one transaction and, when it applied,
// adds it to the history outbox in that transaction: the change is site
// history, forwarded to headquarters, which applies it with
// applyFieldsTx.
func (s *Store) setFields(ctx context.Context, sessionID string, f storage.SessionFields) (bool, error) {
	what := fmt.Sprintf("set %s of session %s", f.Group, sessionID)
	var applied bool
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		ok, err := applyFieldsTx(ctx, tx, sessionID, f)
		if err != nil || !ok {
			return err
		}
		applied = true
		rec, err := sessionRecord(ctx, tx, storage.HistoryFields, fieldsRecordID(sessionID, f), sessionID, "", "")
		if err != nil {
			return err
		}
		rec.Fields = &f
		return enqueueHistory(ctx, tx, f.Version.At, rec)
	})
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return applied, nil
}

// fieldsRecordID names the history record of one change: the same change
// has the same id wherever it is applied.
func fieldsRecordID(sessionID string, f storage.SessionFields) string {
	return fmt.Sprintf("%s/%s/%d/%s", sessionID, f.Group, f.Version.At.UnixNano(), f.Version.Origin)
}

// applyFieldsTx applies change f to a session inside tx if its version is
// later than the group's last change; it reports whether it did.
func applyFieldsTx(ctx context.Context, tx *sql.Tx, sessionID string, f storage.SessionFields) (bool, error) {
	v := f.Version
	if err := validVersion(v); err != nil {
		return false, err
	}
	switch f.Group {
	case storage.FieldsDetails:
		return bumpVersion(ctx, tx, sessionID, "details", v, `name = ?, goal = ?`, f.Name, f.Goal)
	case storage.FieldsNotes:
		return bumpVersion(ctx, tx, sessionID, "notes", v, `notes = ?`, f.Notes)
	case storage.FieldsOutcome:
		return applyOutcomeTx(ctx, tx, sessionID, f.Outcome, f.SolvedAt, v)
	case storage.FieldsLabels:
		return applyLabelsTx(ctx, tx, sessionID, f.Labels, v)
	}
	return false, &storage.ValidationError{Field: "group", Problem: fmt.Sprintf("%q is not a group of session fields", f.Group)}
}

func applyOutcomeTx(ctx context.Context, tx *sql.Tx, sessionID, outcome string, solvedAt *time.Time, v storage.Version) (bool, error) {
	if outcome == "" && solvedAt == nil {
		// clearing: fine
	} else if !storage.ValidOutcome(outcome) || outcome == "" {
		return false, &storage.ValidationError{Field: "outcome",
			Problem: fmt.Sprintf("%q must be 1 to 64 lower-case letters, digits or underscores", outcome)}
	}
	var solved any
	switch {
	case solvedAt != nil:
		solved = nanos(*solvedAt)
	case outcome == storage.OutcomeSolved:
		solved = nanos(v.At)
	}
	var started int64
	if err := tx.QueryRowContext(ctx, `SELECT started_at FROM sessions WHERE id = ?`, sessionID).Scan(&started); err == sql.ErrNoRows {
		return false, fmt.Errorf("session %s: %w", sessionID, storage.ErrNotFound)
	} else if err != nil {
		return false, err
	}
	// time.Time's Before, not UnixNano: a time out of int64 nanoseconds
	// wraps around, and is to be refused for its range when stored.
	if t, ok := solved.(nanoTime); ok && time.Time(t).Before(time.Unix(0, started)) {
		return false, &storage.ValidationError{Field: "solved_at", Problem: "is before the session started"}
	}
	return bumpVersion(ctx, tx, sessionID, "outcome", v, `outcome = ?, solved_at = ?`, outcome, solved)
}

func applyLabelsTx(ctx context.Context, tx *sql.Tx, sessionID string, labelIDs []string, v storage.Version) (bool, error) {
	ids := slices.Clone(labelIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var org string
	if err := tx.QueryRowContext(ctx, `SELECT org_id FROM sessions WHERE id = ?`, sessionID).Scan(&org); err == sql.ErrNoRows {
		return false, fmt.Errorf("session %s: %w", sessionID, storage.ErrNotFound)
	} else if err != nil {
		return false, err
	}
	for _, id := range ids {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM labels WHERE id = ? AND org_id = ?`, id, org).Scan(&one)
		if err == sql.ErrNoRows {
			return false, &storage.ValidationError{Field: "labels", Problem: fmt.Sprintf("%q is not a label of organisation %s", id, org)}
		} else if err != nil {
			return false, err
		}
	}
	ok, err := bumpVersion(ctx, tx, sessionID, "labels", v, "")
	if err != nil || !ok {
		return false, err
	}
	if err := exec(ctx, tx, `DELETE FROM session_labels WHERE session_id = ?`, sessionID); err != nil {
		return false, err
	}
	for _, id := range ids {
		if err := exec(ctx, tx, `INSERT INTO session_labels (session_id, label_id) VALUES (?, ?)`, sessionID, id); err != nil {
			return false, err
		}
	}
	return true, nil
}

// bumpVersion sets field's version (and the columns of set, if any) when v
// is later than the stored one. It reports whether it did; a missing
// session is storage.ErrNotFound.
func bumpVersion(ctx context.Context, tx *sql.Tx, sessionID, field string, v storage.Version, set string, args ...any) (bool, error) {
	at, origin := field+"_at", field+"_origin"
	if set != "" {
		set += ", "
	}
	q := `UPDATE sessions SET ` + set + at + ` = ?, ` + origin + ` = ?, updated_at = max(COALESCE(updated_at, 0), ?)
		WHERE id = ? AND (` + at + ` IS NULL OR ` + at + ` < ? OR (` + at + ` = ? AND ` + origin + ` < ?))`
	t := nanos(v.At)
	args = append(args, t, v.Origin, t, sessionID, t, t, v.Origin)
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return false, domainError(err)
	}
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return n > 0, err
	}
	return false, sessionExists(ctx, tx, sessionID)
}

func validVersion(v storage.Version) error {
	if v.At.IsZero() {
		return &storage.ValidationError{Field: "version.at", Problem: "is required"}
	}
	return nil
}

// SessionSummary returns one session of an organisation as the history
// lists it; another organisation's is storage.ErrNotFound.
func (s *Store) SessionSummary(ctx context.Context, orgID, id string) (storage.SessionSummary, error) {
	var ss storage.SessionSummary
	err := s.read.QueryRowContext(ctx, `SELECT id, org_id, site_id, kind, name, goal, status, created_by, owner_id,
		outcome, notes, started_at, ended_at, solved_at FROM sessions WHERE id = ? AND org_id = ?`, id, orgID).Scan(
		&ss.ID, &ss.OrgID, &ss.SiteID, &ss.Kind, &ss.Name, &ss.Goal, &ss.Status, &ss.CreatedBy, &ss.OwnerID,
		&ss.Outcome, &ss.Notes, timeDest{&ss.StartedAt}, optTimeDest{&ss.EndedAt}, optTimeDest{&ss.SolvedAt})
	if err == sql.ErrNoRows {
		return ss, fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return ss, fmt.Errorf("session %s: %w", id, err)
	}
	page := []storage.SessionSummary{ss}
	if err := s.fillLabels(ctx, page); err != nil {
		return ss, fmt.Errorf("session %s: %w", id, err)
	}
	return page[0], nil
}
