package storage

import "time"

// CallStats is what one user's calls since a time came to, for the team
// dashboard: the calls they joined (visibly), and the average time they
// spent in those that are over for them.
type CallStats struct {
	Calls int `json:"calls"`
	// Handled is how many of them are over for the user; AvgHandling is
	// their average time from the user's first join to their last leave.
	Handled     int           `json:"handled"`
	AvgHandling time.Duration `json:"avg_handling"`
}

// OngoingSession is an open session (ringing or active) with the people
// in it now, for the team dashboard.
type OngoingSession struct {
	Session
	SiteName     string               `json:"site_name"`
	Participants []SessionParticipant `json:"participants"`
}

// StatusSample is a team's member status counts (web.Statuses) at one
// moment: a point of the team dashboard's chart.
type StatusSample struct {
	OrgID  string         `json:"org_id"`
	TeamID string         `json:"team_id"`
	At     time.Time      `json:"at"`
	Counts map[string]int `json:"counts"`
}
