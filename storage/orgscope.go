package storage

// Records read one organisation at a time, each in a single query, for
// pages that would otherwise read a list and then one more thing for each
// of its items.

// TeamWithMembers is a team with its memberships, ordered by the members'
// names.
type TeamWithMembers struct {
	Team
	Members []TeamMembership `json:"members"`
}

// UserTeam is one of a user's memberships with the name of its team.
type UserTeam struct {
	TeamMembership
	TeamName string `json:"team_name"`
}

// OrgCounts counts an organisation's records, for its start page.
type OrgCounts struct {
	Users       int `json:"users"`
	ActiveUsers int `json:"active_users"`
	Teams       int `json:"teams"`
	Contacts    int `json:"contacts"`
	LabelGroups int `json:"label_groups"`
	Labels      int `json:"labels"`
}
