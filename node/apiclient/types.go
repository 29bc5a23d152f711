package apiclient

import "time"

// The API's requests and answers as the command line sends and reads them.
// Their JSON is the web package's; TestTypesMatchTheAPI holds them to it.

// User is a member of the organisation.
type User struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// UserInput creates a user.
type UserInput struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

// UserPatch changes a user; nil fields are left as they are.
type UserPatch struct {
	Email    *string   `json:"email"`
	Name     *string   `json:"name"`
	Active   *bool     `json:"active"`
	Roles    *[]string `json:"roles"`
	Password *string   `json:"password"`
}

// PolicyRule is one casbin policy line: PType "p" (subject, domain,
// object) or "g" (user, role, domain).
type PolicyRule struct {
	OrgID string   `json:"org_id"`
	PType string   `json:"ptype"`
	V     []string `json:"v"`
}

// PolicyVersion is the policy as it stood after one change.
type PolicyVersion struct {
	ID      string       `json:"id"`
	OrgID   string       `json:"org_id"`
	At      time.Time    `json:"at"`
	ActorID string       `json:"actor_id"`
	Note    string       `json:"note"`
	Lines   int          `json:"lines"`
	Rules   []PolicyRule `json:"rules,omitempty"`
}

// GrantInput names a subject and a permission.
type GrantInput struct {
	Subject    string `json:"subject"`
	Permission string `json:"permission"`
	Note       string `json:"note,omitempty"`
}

// RoleInput creates a role, optionally inheriting other roles.
type RoleInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Inherits    []string `json:"inherits"`
}

// AssignInput gives a role to a user, a team or another role.
type AssignInput struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
}

// ImportInput is a casbin CSV policy and a note for its version.
type ImportInput struct {
	CSV  string `json:"csv"`
	Note string `json:"note"`
}

// PolicyResult says what a change did.
type PolicyResult struct {
	Changed  bool           `json:"changed"`
	Added    int            `json:"added"`
	Removed  int            `json:"removed"`
	Warnings []string       `json:"warnings"`
	Version  *PolicyVersion `json:"version,omitempty"`
}

// CheckResult answers "can USER do PERMISSION?" and says which rule
// decided.
type CheckResult struct {
	UserID      string   `json:"user_id"`
	Email       string   `json:"email"`
	Permission  string   `json:"permission"`
	Allowed     bool     `json:"allowed"`
	Rule        []string `json:"rule"`
	Roles       []string `json:"roles"`
	Explanation string   `json:"explanation"`
	Warnings    []string `json:"warnings"`
}

// RoleInfo is a role with its place in the policy.
type RoleInfo struct {
	OrgID       string   `json:"org_id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Builtin     bool     `json:"builtin"`
	Inherits    []string `json:"inherits"`
	Children    []string `json:"children"`
	Users       []string `json:"users"`
	Teams       []string `json:"teams"`
	Grants      []string `json:"grants"`
}

// ClusterStatus is the federation as one node sees it.
type ClusterStatus struct {
	NodeID        string          `json:"node_id"`
	LeaderID      string          `json:"leader_id"`
	CAFingerprint string          `json:"ca_fingerprint"`
	Nodes         []ClusterNode   `json:"nodes"`
	Self          ClusterNodeSelf `json:"self"`
}

// ClusterNodeSelf is what the node knows about itself only.
type ClusterNodeSelf struct {
	CanMintTokens bool `json:"can_mint_tokens"`
}

// ClusterNode is one member of the federation.
type ClusterNode struct {
	ID             string     `json:"id"`
	Address        string     `json:"address"`
	Site           string     `json:"site"`
	Role           string     `json:"role"` // leader, voter or nonvoter
	Leader         bool       `json:"leader"`
	Voter          bool       `json:"voter"`
	State          string     `json:"state"`
	AppliedIndex   uint64     `json:"applied_index"`
	Lag            uint64     `json:"lag"`
	LastContact    *time.Time `json:"last_contact,omitempty"`
	Link           string     `json:"link"` // self, up or down
	Error          string     `json:"error,omitempty"`
	HistoryBacklog *int64     `json:"history_backlog,omitempty"`
	HistoryLink    string     `json:"history_link,omitempty"`
}

// JoinToken is a freshly minted join token; Token is shown once.
type JoinToken struct {
	Token     string    `json:"token"`
	Role      string    `json:"role"` // voter or plant
	ExpiresAt time.Time `json:"expires_at"`
	Server    string    `json:"server"`
	// Fingerprint pins the server's self-signed HTTPS certificate
	// (cluster join -fingerprint); empty for another certificate.
	Fingerprint string `json:"fingerprint,omitempty"`
}
