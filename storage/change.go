package storage

import (
	"fmt"
	"time"
)

// Op names one kind of change to organisation data.
type Op string

// The changes the replicated state machine applies. Every field a change
// needs (ids, timestamps, password hashes) is decided by the node that
// proposes it, so that applying it is deterministic on every node.
const (
	OpPutOrg        Op = "org.put"         // Org
	OpPutSite       Op = "site.put"        // Site
	OpPutUser       Op = "user.put"        // User (insert or replace)
	OpDeleteUser    Op = "user.delete"     // ID
	OpPutRole       Op = "role.put"        // Role
	OpDeleteRole    Op = "role.delete"     // OrgID, ID (role name)
	OpPutTeam       Op = "team.put"        // Team
	OpDeleteTeam    Op = "team.delete"     // ID
	OpSetTeamMember Op = "team.member.set" // Membership (insert or replace)
	OpDelTeamMember Op = "team.member.del" // Membership (TeamID, UserID)
	OpPutLabelGroup Op = "labelgroup.put"  // LabelGroup
	OpDelLabelGroup Op = "labelgroup.del"  // ID (its labels go with it)
	OpPutLabel      Op = "label.put"       // Label
	OpDelLabel      Op = "label.del"       // ID
	OpPutContact    Op = "contact.put"     // Contact
	OpDelContact    Op = "contact.del"     // ID
	OpAddPolicy     Op = "policy.add"      // Rules (already present ones are ignored)
	OpRemovePolicy  Op = "policy.remove"   // Rules (absent ones are ignored)
	OpReplacePolicy Op = "policy.replace"  // OrgID, Rules: the org's whole policy
	OpPutToken      Op = "token.put"       // Token
	OpDelToken      Op = "token.del"       // ID
	// OpDelUserTokens revokes every API token of a user, those proposed
	// concurrently and applied before it included.
	OpDelUserTokens Op = "token.del_user" // ID (user id)

	OpPutPolicyVersion Op = "policy.version.put" // PolicyVersion: a recorded version of an org's policy

	// OpPutHistorySettings replaces an organisation's outcomes and report
	// fields (history_settings.go).
	OpPutHistorySettings Op = "history_settings.put" // HistorySettings
	// Member invitations (storage/member.go). A put inserts an invitation,
	// or renews one still pending (a resend: new token hash and expiry).
	// Revoke and accept apply only to an invitation still pending, and
	// accept only with the token hash it expects and before the stored
	// expiry: otherwise ErrConflict, the same on every node, so of two
	// accepts of one link exactly one succeeds.
	OpPutMemberInvite    Op = "member_invitation.put"    // MemberInvitation, TokenHash
	OpRevokeMemberInvite Op = "member_invitation.revoke" // MemberInvitation (ID, RevokedAt)
	OpAcceptMemberInvite Op = "member_invitation.accept" // MemberInvitation (ID, UsedAt, UserID), TokenHash
	// OpSetUserLabels replaces the labels applied to a user; every label
	// must be of the user's organisation.
	OpSetUserLabels Op = "user.labels.set" // ID (user id), LabelIDs
	// OpSetAutoAssign switches a user's auto-assign (storage/queue.go).
	OpSetAutoAssign Op = "user.auto_assign.set" // AutoAssign
	// OpSetTeamQueue sets how a team's queue offers requests.
	OpSetTeamQueue Op = "team.queue.set" // TeamQueue
	// OpPutLeafAddress records where a node accepts leaf links
	// (storage/leaf.go); federation data, of no organisation.
	OpPutLeafAddress Op = "leaf_address.put" // LeafAddress
	// OpPutSSOSettings replaces an organisation's single sign-on settings
	// (sso.go).
	OpPutSSOSettings Op = "sso_settings.put" // SSOSettings
)

// Change is one mutation of organisation data. Exactly the fields its Op
// names are set.
type Change struct {
	Op         Op              `json:"op"`
	ID         string          `json:"id,omitempty"`
	OrgID      string          `json:"org_id,omitempty"`
	Org        *Org            `json:"org,omitempty"`
	Site       *Site           `json:"site,omitempty"`
	User       *User           `json:"user,omitempty"`
	Role       *Role           `json:"role,omitempty"`
	Team       *Team           `json:"team,omitempty"`
	Membership *TeamMembership `json:"membership,omitempty"`
	LabelGroup *LabelGroup     `json:"label_group,omitempty"`
	Label      *Label          `json:"label,omitempty"`
	Contact    *Contact        `json:"contact,omitempty"`
	Rules      []PolicyRule    `json:"rules,omitempty"`
	Token      *APIToken       `json:"token,omitempty"`
	// PolicyVersion travels with OpPutPolicyVersion.
	PolicyVersion *PolicyVersion `json:"policy_version,omitempty"`
	// HistorySettings travels with OpPutHistorySettings.
	HistorySettings *HistorySettings `json:"history_settings,omitempty"`
	// MemberInvitation travels with the member_invitation changes.
	MemberInvitation *MemberInvitation `json:"member_invitation,omitempty"`
	// LabelIDs travels with OpSetUserLabels.
	LabelIDs []string `json:"label_ids,omitempty"`
	// AutoAssign travels with OpSetAutoAssign, TeamQueue with
	// OpSetTeamQueue.
	AutoAssign *AutoAssign `json:"auto_assign,omitempty"`
	TeamQueue  *TeamQueue  `json:"team_queue,omitempty"`
	// LeafAddress travels with OpPutLeafAddress.
	LeafAddress *LeafAddress `json:"leaf_address,omitempty"`
	// SSOSettings travels with OpPutSSOSettings.
	SSOSettings *SSOSettings `json:"sso_settings,omitempty"`

	// Existing marks a put that updates a record: it applies only if the
	// record still exists when the change is applied, and is refused with
	// ErrNotFound otherwise. A node proposes an update from its own copy,
	// which may lag; without it, an update racing a delete made elsewhere
	// would bring the deleted record back.
	Existing bool `json:"existing,omitempty"`

	// PasswordHash travels with OpPutUser: User.PasswordHash is not
	// serialised to JSON (it must never reach an API response).
	PasswordHash string `json:"password_hash,omitempty"`
	// TokenHash travels with OpPutToken for the same reason, and with the
	// member invitation put and accept.
	TokenHash []byte `json:"token_hash,omitempty"`
}

// Command is what is proposed to Raft: a batch of changes applied in one
// transaction, all or nothing.
type Command struct {
	Changes []Change  `json:"changes"`
	At      time.Time `json:"at"`
	ActorID string    `json:"actor_id"`
}

// Validate checks that every change carries the fields its Op needs. The
// state machine refuses a command that fails it, on every node alike.
func (c Command) Validate() error {
	if len(c.Changes) == 0 {
		return fmt.Errorf("command has no changes: %w", ErrInvalid)
	}
	for i, ch := range c.Changes {
		if err := ch.validate(); err != nil {
			return fmt.Errorf("change %d (%s): %w", i, ch.Op, err)
		}
	}
	return nil
}

func (ch Change) validate() error {
	missing := func(what string) error { return &ValidationError{Field: what, Problem: "is required"} }
	switch ch.Op {
	case OpPutOrg:
		if ch.Org == nil {
			return missing("org")
		}
	case OpPutSite:
		if ch.Site == nil {
			return missing("site")
		}
	case OpPutUser:
		if ch.User == nil {
			return missing("user")
		}
	case OpPutRole:
		if ch.Role == nil {
			return missing("role")
		}
	case OpPutTeam:
		if ch.Team == nil {
			return missing("team")
		}
	case OpSetTeamMember, OpDelTeamMember:
		if ch.Membership == nil {
			return missing("membership")
		}
	case OpPutLabelGroup:
		if ch.LabelGroup == nil {
			return missing("label_group")
		}
	case OpPutLabel:
		if ch.Label == nil {
			return missing("label")
		}
	case OpPutContact:
		if ch.Contact == nil {
			return missing("contact")
		}
	case OpPutToken:
		if ch.Token == nil {
			return missing("token")
		}
	case OpPutPolicyVersion:
		if ch.PolicyVersion == nil {
			return missing("policy_version")
		}
	case OpPutHistorySettings:
		if ch.HistorySettings == nil {
			return missing("history_settings")
		}
	case OpPutSSOSettings:
		if ch.SSOSettings == nil {
			return missing("sso_settings")
		}
	case OpPutMemberInvite, OpRevokeMemberInvite, OpAcceptMemberInvite:
		if ch.MemberInvitation == nil {
			return missing("member_invitation")
		}
	case OpAddPolicy, OpRemovePolicy:
		if len(ch.Rules) == 0 {
			return missing("rules")
		}
	case OpReplacePolicy:
		if ch.OrgID == "" {
			return missing("org_id")
		}
	case OpSetAutoAssign:
		if ch.AutoAssign == nil {
			return missing("auto_assign")
		}
	case OpSetTeamQueue:
		if ch.TeamQueue == nil {
			return missing("team_queue")
		}
	case OpPutLeafAddress:
		if ch.LeafAddress == nil {
			return missing("leaf_address")
		}
	case OpSetUserLabels:
		if ch.ID == "" {
			return missing("id")
		}
	case OpDeleteUser, OpDeleteTeam, OpDelLabelGroup, OpDelLabel, OpDelContact, OpDelToken, OpDelUserTokens:
		if ch.ID == "" {
			return missing("id")
		}
	case OpDeleteRole:
		if ch.ID == "" || ch.OrgID == "" {
			return missing("id and org_id")
		}
	default:
		return &ValidationError{Field: "op", Problem: fmt.Sprintf("unknown operation %q", ch.Op)}
	}
	return nil
}
