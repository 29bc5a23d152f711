package reports

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"siteline/storage"
	"siteline/web"
)

// The fields people give a session after the call: name and goal,
// outcome, notes and labels. Whoever may read the session sets them, at the
// site that held it; each change is site history, forwarded to
// headquarters.

// Fielder reads and sets a session's fields.
type Fielder interface {
	SessionSummary(ctx context.Context, orgID, id string) (storage.SessionSummary, error)
	SetSessionDetails(ctx context.Context, sessionID, name, goal string, v storage.Version) (bool, error)
	SetSessionOutcome(ctx context.Context, sessionID, outcome string, solvedAt *time.Time, v storage.Version) (bool, error)
	SetSessionNotes(ctx context.Context, sessionID, notes string, v storage.Version) (bool, error)
	SetSessionLabels(ctx context.Context, sessionID string, labelIDs []string, v storage.Version) (bool, error)
}

const maxNotes = 10000

// SessionFields returns a session's fields, for a reader of the session.
func (s *Service) SessionFields(ctx context.Context, a web.Actor, id string) (storage.SessionSummary, error) {
	ss, err := s.d.Sessions.ViewCall(ctx, a, id)
	if err != nil {
		return storage.SessionSummary{}, err
	}
	return s.d.Fields.SessionSummary(ctx, ss.OrgID, ss.ID)
}

// SetSessionFields changes what in gives of a session's fields, for a
// reader of the session, at the site that held it. Groups left nil are
// left alone.
func (s *Service) SetSessionFields(ctx context.Context, a web.Actor, id string, in web.SessionFieldsInput) (storage.SessionSummary, error) {
	ss, err := s.d.Sessions.ViewCall(ctx, a, id)
	if err != nil {
		return storage.SessionSummary{}, err
	}
	if ss.SiteID != s.d.SiteID {
		return storage.SessionSummary{}, fmt.Errorf("this session was held at another site; change it there: %w", storage.ErrConflict)
	}
	if err := checkFields(&in); err != nil {
		return storage.SessionSummary{}, err
	}
	solved, err := s.checkOutcome(ctx, ss, in.Outcome)
	if err != nil {
		return storage.SessionSummary{}, err
	}
	v := storage.Version{At: s.d.Now().UTC(), Origin: s.d.NodeID}
	if in.Name != nil || in.Goal != nil {
		cur, err := s.d.Fields.SessionSummary(ctx, ss.OrgID, ss.ID)
		if err != nil {
			return storage.SessionSummary{}, err
		}
		name, goal := cur.Name, cur.Goal
		if in.Name != nil {
			name = *in.Name
		}
		if in.Goal != nil {
			goal = *in.Goal
		}
		if _, err := s.d.Fields.SetSessionDetails(ctx, ss.ID, name, goal, v); err != nil {
			return storage.SessionSummary{}, err
		}
	}
	if in.Outcome != nil {
		solvedAt, err := s.solvedAt(ctx, ss, *in.Outcome, solved, v.At)
		if err != nil {
			return storage.SessionSummary{}, err
		}
		if _, err := s.d.Fields.SetSessionOutcome(ctx, ss.ID, *in.Outcome, solvedAt, v); err != nil {
			return storage.SessionSummary{}, err
		}
	}
	if in.Notes != nil {
		if _, err := s.d.Fields.SetSessionNotes(ctx, ss.ID, *in.Notes, v); err != nil {
			return storage.SessionSummary{}, err
		}
	}
	if in.Labels != nil {
		if _, err := s.d.Fields.SetSessionLabels(ctx, ss.ID, *in.Labels, v); err != nil {
			return storage.SessionSummary{}, err
		}
	}
	return s.d.Fields.SessionSummary(ctx, ss.OrgID, ss.ID)
}

// checkFields trims in and checks it.
func checkFields(in *web.SessionFieldsInput) error {
	trim := func(p *string) {
		if p != nil {
			*p = strings.TrimSpace(*p)
		}
	}
	trim(in.Name)
	trim(in.Goal)
	trim(in.Outcome)
	trim(in.Notes)
	bad := func(field, problem string) error { return &storage.ValidationError{Field: field, Problem: problem} }
	switch {
	case in.Name != nil && utf8.RuneCountInString(*in.Name) > 200:
		return bad("name", "must be at most 200 characters")
	case in.Goal != nil && utf8.RuneCountInString(*in.Goal) > 2000:
		return bad("goal", "must be at most 2000 characters")
	case in.Notes != nil && utf8.RuneCountInString(*in.Notes) > maxNotes:
		return bad("notes", fmt.Sprintf("must be at most %d characters", maxNotes))
	case in.Labels != nil && len(*in.Labels) > 50:
		return bad("labels", "must be at most 50")
	}
	return nil
}

// solvedAt is the solved time to keep with outcome: none when it does not
// count as solved, the time it was first given when the session has it
// already (saving a session's other fields keeps its time to solve), else
// now.
func (s *Service) solvedAt(ctx context.Context, ss storage.Session, outcome string, solved bool, now time.Time) (*time.Time, error) {
	if !solved {
		return nil, nil
	}
	cur, err := s.d.Fields.SessionSummary(ctx, ss.OrgID, ss.ID)
	if err != nil {
		return nil, err
	}
	if cur.Outcome == outcome && cur.SolvedAt != nil {
		return cur.SolvedAt, nil
	}
	return &now, nil
}

// checkOutcome accepts an outcome of the organisation's list, none, or the
// one the session has: an outcome taken out of the list stays on the
// sessions given it, and saving their other fields keeps it. It reports
// whether the outcome counts as solved: one of the list marked so, or
// the built-in key solved.
func (s *Service) checkOutcome(ctx context.Context, ss storage.Session, outcome *string) (bool, error) {
	if outcome == nil || *outcome == "" {
		return false, nil
	}
	h, err := s.settings(ctx, ss.OrgID)
	if err != nil {
		return false, err
	}
	if def, ok := h.Outcome(*outcome); ok {
		return def.Solved || def.Key == storage.OutcomeSolved, nil
	}
	cur, err := s.d.Fields.SessionSummary(ctx, ss.OrgID, ss.ID)
	if err != nil {
		return false, err
	}
	if cur.Outcome == *outcome {
		return *outcome == storage.OutcomeSolved || cur.SolvedAt != nil, nil
	}
	return false, &storage.ValidationError{Field: "outcome", Problem: fmt.Sprintf("%q is not an outcome of this organisation: use one of %s, or none",
		*outcome, strings.Join(h.OutcomeKeys(), ", "))}
}
