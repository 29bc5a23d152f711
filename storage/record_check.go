package storage

import (
	"encoding/json"
	"fmt"
)

// The checks both stores make of what they are asked to write: a forwarded
// history record, a media row, a deletion, a service report's version.
// Each fails with a *ValidationError naming the field.

// Check checks a forwarded record has what its kind needs and that its
// parts agree with each other.
func (rec HistoryRecord) Check() error {
	bad := func(field, problem string) error { return &ValidationError{Field: field, Problem: problem} }
	if rec.ID == "" {
		return bad("id", "is required")
	}
	if rec.Kind == HistoryAudit {
		e := rec.Audit
		switch {
		case e == nil:
			return bad("audit", "is required for an audit record")
		case e.ID != rec.ID:
			return bad("audit.id", "differs from the record's id")
		case e.OrgID == "" || e.ActorID == "" || e.Action == "" || e.At.IsZero():
			return bad("audit", "needs org_id, actor_id, action and at")
		}
		return nil
	}
	switch rec.Kind {
	case HistorySessionCreated, HistorySessionEnded, HistoryJoined,
		HistoryLeft, HistoryEvent, HistoryServiceReport, HistoryFields,
		HistoryMediaDeleted:
	default:
		return bad("kind", fmt.Sprintf("%q is not a history record kind", rec.Kind))
	}
	ss := rec.Session
	if ss == nil || ss.ID == "" || ss.OrgID == "" || ss.SiteID == "" || ss.StartedAt.IsZero() {
		return bad("session", "needs id, org_id, site_id and started_at")
	}
	if rec.Kind == HistoryFields {
		f := rec.Fields
		switch {
		case f == nil:
			return bad("fields", "is required for a session.fields record")
		case f.Version.At.IsZero() || f.Version.Origin == "":
			return bad("fields.version", "needs at and origin")
		}
		switch f.Group {
		case FieldsDetails, FieldsOutcome, FieldsNotes, FieldsLabels:
		default:
			return bad("fields.group", fmt.Sprintf("%q is not a group of session fields", f.Group))
		}
		return nil
	}
	if rec.Kind == HistoryServiceReport {
		r := rec.Report
		switch {
		case r == nil:
			return bad("report", "is required for a service_report record")
		case r.VersionID != rec.ID:
			return bad("report.version_id", "differs from the record's id")
		case r.SessionID != ss.ID || r.OrgID != ss.OrgID:
			return bad("report", "must be of the record's session and its organisation")
		}
		return r.Check()
	}
	if rec.Kind == HistorySessionCreated {
		if rec.ID != ss.ID {
			return bad("id", "of a session.created record must be the session's")
		}
		return nil
	}
	ev := rec.Event
	if ev == nil || ev.ID != rec.ID || ev.SessionID != ss.ID || ev.Seq <= 0 || ev.Kind == "" || ev.At.IsZero() {
		return bad("event", "must carry the record's id, its session's id, a seq, a kind and a time")
	}
	if len(ev.Payload) > 0 && !json.Valid(ev.Payload) {
		return bad("event.payload", "is not valid JSON")
	}
	if rec.Kind == HistoryMediaDeleted {
		d := rec.Deletion
		if d == nil {
			return bad("deletion", "is required for a media.deleted record")
		}
		if d.SessionID != ss.ID || d.OrgID != ss.OrgID {
			return bad("deletion", "must be of the record's session and its organisation")
		}
		if err := d.Check(); err != nil {
			return err
		}
	}
	if rec.Kind == HistoryJoined || rec.Kind == HistoryLeft {
		p := rec.Participant
		if p == nil || p.ID == "" || p.SessionID != ss.ID || p.UserID == "" || p.JoinedAt.IsZero() {
			return bad("participant", "needs id, its session's id, user_id and joined_at")
		}
	}
	if m := rec.Media; m != nil {
		switch {
		case m.ID == "" || m.SessionID != ss.ID || m.OrgID == "" || m.CreatedAt.IsZero():
			return bad("media", "needs id, its session's id, org_id and created_at")
		case m.Kind != MediaSnapshot && m.Kind != MediaFile:
			return bad("media.kind", fmt.Sprintf("must be snapshot or file, not %q", m.Kind))
		case !ValidBlobKey(m.SHA256):
			return bad("media.sha256", "must be a lower-case hex SHA-256")
		case m.Size < 0:
			return bad("media.size", "must not be negative")
		case len(m.Annotations) > 0 && !json.Valid(m.Annotations):
			return bad("media.annotations", "is not valid JSON")
		}
	}
	if r := rec.Recording; r != nil {
		switch {
		case r.ID == "" || r.SessionID != ss.ID || r.OrgID == "" || r.StartedAt.IsZero():
			return bad("recording", "needs id, its session's id, org_id and started_at")
		case !ValidBlobKey(r.SHA256):
			return bad("recording.sha256", "must be a lower-case hex SHA-256")
		case r.Status != RecordingComplete && r.Status != RecordingFailed:
			return bad("recording.status", fmt.Sprintf("must be complete or failed, not %q", r.Status))
		case r.Size < 0:
			return bad("recording.size", "must not be negative")
		}
	}
	return nil
}

// Check checks a media row has what it needs, and that ev, the event that
// announces it, is of its session.
func (m Media) Check(ev SessionEvent) error {
	if err := required("media.id", m.ID, "media.session_id", m.SessionID, "media.org_id", m.OrgID,
		"media.blob_key", m.BlobKey, "media.content_type", m.ContentType); err != nil {
		return err
	}
	switch {
	case m.Kind != MediaSnapshot && m.Kind != MediaFile:
		return &ValidationError{Field: "media.kind", Problem: fmt.Sprintf("must be snapshot or file, not %q", m.Kind)}
	case m.Size < 0:
		return &ValidationError{Field: "media.size", Problem: "must not be negative"}
	case m.CreatedAt.IsZero():
		return &ValidationError{Field: "media.created_at", Problem: "is required"}
	case ev.SessionID != m.SessionID:
		return &ValidationError{Field: "event.session_id", Problem: "differs from the media's"}
	}
	return nil
}

// Check checks a deletion names what it deletes, where and when.
func (d MediaDeletion) Check() error {
	bad := func(field, problem string) error { return &ValidationError{Field: field, Problem: problem} }
	switch {
	case d.What != DeletedMedia && d.What != DeletedRecording:
		return bad("deletion.what", fmt.Sprintf("must be media or recording, not %q", d.What))
	case d.ID == "" || d.SessionID == "" || d.OrgID == "":
		return bad("deletion", "needs id, session_id and org_id")
	case d.At.IsZero():
		return bad("deletion.at", "is required")
	case d.SHA256 != "" && !ValidBlobKey(d.SHA256):
		return bad("deletion.sha256", "must be a lower-case hex SHA-256")
	}
	return nil
}

// Check checks a version of a service report has what it needs.
func (r ServiceReport) Check() error {
	if err := required("report.id", r.ID, "report.version_id", r.VersionID, "report.org_id", r.OrgID,
		"report.site_id", r.SiteID, "report.session_id", r.SessionID, "report.created_by", r.CreatedBy,
		"report.edited_by", r.EditedBy); err != nil {
		return err
	}
	switch {
	case r.Version < 1:
		return &ValidationError{Field: "report.version", Problem: "must be 1 or more"}
	case r.CreatedAt.IsZero() || r.EditedAt.IsZero():
		return &ValidationError{Field: "report.edited_at", Problem: "and created_at are required"}
	}
	return nil
}

// MaxReportVersions bounds the versions a report keeps: an edit beyond it
// is refused rather than growing the history without end.
const MaxReportVersions = 1000

// CheckFollows checks that version r, written at this node, may follow
// cur, the report as it stands (nil: there is none): version 1 creates the
// report, version n+1 follows version n. A version number already taken
// (the report was edited meanwhile, or created twice) is ErrConflict, and
// so is an edit of a deleted report.
func (r ServiceReport) CheckFollows(cur *ServiceReport) error {
	switch {
	case cur == nil && r.Version == 1:
	case cur == nil:
		return fmt.Errorf("version %d of a report that does not exist: %w", r.Version, ErrNotFound)
	case cur.Deleted:
		return fmt.Errorf("the report was deleted: %w", ErrConflict)
	case cur.Version != r.Version-1:
		return fmt.Errorf("the report is at version %d, so version %d cannot follow it; it was edited meanwhile: %w",
			cur.Version, r.Version, ErrConflict)
	case cur.SessionID != r.SessionID || cur.OrgID != r.OrgID:
		return &ValidationError{Field: "session_id", Problem: "differs from the report's"}
	case r.Version > MaxReportVersions:
		return &ValidationError{Field: "version", Problem: fmt.Sprintf("a report keeps at most %d versions", MaxReportVersions)}
	}
	return nil
}

// required fails naming the first field whose value is empty, of pairs of
// field name and value.
func required(fieldValues ...string) error {
	for i := 0; i+1 < len(fieldValues); i += 2 {
		if fieldValues[i+1] == "" {
			return &ValidationError{Field: fieldValues[i], Problem: "is required"}
		}
	}
	return nil
}
