package storage

import "time"

// A service report is what an expert writes after a call: the structured
// fields the organisation asks for (asset, fault, action taken, parts...)
// and free text. It is versioned: every edit, and the deletion, is a new
// version, and the earlier ones stay readable as the report's history.
// Versions are site history: written at the node that holds the session,
// forwarded to headquarters with the rest and applied there idempotently.

// HistoryServiceReport is the kind of the history record carrying one
// version of a service report.
const HistoryServiceReport = "service_report"

// ServiceReport is one version of a report; a report read as it stands is
// its latest version. Of two versions, the later is the one with the later
// EditedAt, then the greater Origin, then the greater Version: the order in
// which headquarters, receiving the versions of several nodes in any order,
// and the node itself agree on which stands.
type ServiceReport struct {
	ID        string `json:"id"`
	VersionID string `json:"version_id"`
	OrgID     string `json:"org_id"`
	SiteID    string `json:"site_id"`
	SessionID string `json:"session_id"`
	// Version numbers the report's versions from 1, at the node they are
	// written.
	Version int               `json:"version"`
	Fields  map[string]string `json:"fields"`
	Body    string            `json:"body"`
	// Deleted marks the version that deleted the report.
	Deleted   bool      `json:"deleted,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	EditedBy  string    `json:"edited_by"`
	EditedAt  time.Time `json:"edited_at"`
	// Origin is the node the version was written at.
	Origin string `json:"origin"`
	// SessionName is the session's name, as searches return it.
	SessionName string `json:"session_name,omitempty"`
}

// ServiceReportQuery selects reports of one organisation: those whose text
// or field values hold every word of Text (all of them when empty), of the
// given sessions only when Sessions is set, of the sessions UserID created,
// owns or took part in when it is set; the latest edited first.
type ServiceReportQuery struct {
	OrgID    string
	Text     string
	Sessions []string
	UserID   string
	Limit    int
}
