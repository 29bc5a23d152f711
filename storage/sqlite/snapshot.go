package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"

	"siteline/storage"
)

// A snapshot is one JSON document: a header naming the format, its version
// and the applied index, then every organisation table. Site data (calls,
// audit, web sessions, node facts) is not in it: it is not replicated.
const (
	snapshotFormat  = "siteline.org-snapshot"
	snapshotVersion = 1
)

type snapshotHeader struct {
	Format       string `json:"format"`
	Version      int    `json:"version"`
	AppliedIndex uint64 `json:"applied_index"`
}

// snapshotV1 is version 1 of the document. Records appear parents first,
// in the order Restore inserts them.
type snapshotV1 struct {
	snapshotHeader
	Orgs        []storage.Org            `json:"orgs"`
	Sites       []storage.Site           `json:"sites"`
	Users       []snapshotUser           `json:"users"`
	Roles       []storage.Role           `json:"roles"`
	Teams       []storage.Team           `json:"teams"`
	Memberships []storage.TeamMembership `json:"team_memberships"`
	LabelGroups []storage.LabelGroup     `json:"label_groups"`
	Labels      []storage.Label          `json:"labels"`
	UserLabels  []userLabel              `json:"user_labels"`
	Contacts    []storage.Contact        `json:"contacts"`
	Policy      []storage.PolicyRule     `json:"policy"`
	Tokens      []snapshotToken          `json:"api_tokens"`
	// PolicyVersions came after version 1 was released; a snapshot
	// without it restores with no history.
	PolicyVersions []storage.PolicyVersion `json:"policy_versions,omitempty"`
	// HistorySettings came later still; a snapshot without them restores
	// every organisation with the defaults.
	HistorySettings []storage.HistorySettings `json:"history_settings,omitempty"`
	// MemberInvitations came later still; absent, none are restored.
	MemberInvitations []snapshotMemberInvite `json:"member_invitations,omitempty"`
	// AutoAssign and TeamQueues came with team queues; absent, every
	// user has auto-assign on and every team the node's strategy.
	AutoAssign []storage.AutoAssign `json:"auto_assign,omitempty"`
	TeamQueues []storage.TeamQueue  `json:"team_queues,omitempty"`
	// LeafAddresses came with plants following their hub's leaf address.
	LeafAddresses []storage.LeafAddress `json:"leaf_addresses,omitempty"`
	// SSOSettings came with single sign-on; absent, no organisation has
	// any.
	SSOSettings []storage.SSOSettings `json:"sso_settings,omitempty"`
}

// snapshotMemberInvite carries the token hash that storage.MemberInvitation
// keeps out of JSON.
type snapshotMemberInvite struct {
	storage.MemberInvitation
	TokenHash []byte `json:"token_hash"`
}

// snapshotUser carries the password hash that storage.User keeps out of
// JSON.
type snapshotUser struct {
	storage.User
	PasswordHash string `json:"password_hash"`
}

// snapshotToken carries the hash that storage.APIToken keeps out of JSON.
type snapshotToken struct {
	storage.APIToken
	Hash []byte `json:"hash"`
}

type userLabel struct {
	UserID  string `json:"user_id"`
	LabelID string `json:"label_id"`
}

// Snapshot writes every organisation record and the applied index to w,
// all read in one transaction so they are consistent with each other.
func (s *Store) Snapshot(ctx context.Context, w io.Writer) error {
	snap, err := s.readSnapshot(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := json.NewEncoder(w).Encode(snap); err != nil {
		return fmt.Errorf("snapshot at index %d: write: %w", snap.AppliedIndex, err)
	}
	return nil
}

func (s *Store) readSnapshot(ctx context.Context) (*snapshotV1, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	snap := &snapshotV1{snapshotHeader: snapshotHeader{Format: snapshotFormat, Version: snapshotVersion}}
	if snap.AppliedIndex, err = appliedIndex(ctx, tx); err != nil {
		return nil, err
	}
	if snap.Orgs, err = queryOrgs(ctx, tx, ""); err != nil {
		return nil, err
	}
	if snap.Sites, err = querySites(ctx, tx, ""); err != nil {
		return nil, err
	}
	users, err := queryUsers(ctx, tx, "")
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		snap.Users = append(snap.Users, snapshotUser{User: u, PasswordHash: u.PasswordHash})
	}
	if snap.Roles, err = queryRoles(ctx, tx, ""); err != nil {
		return nil, err
	}
	if snap.Teams, err = queryTeams(ctx, tx, ""); err != nil {
		return nil, err
	}
	if snap.Memberships, err = queryMemberships(ctx, tx, ""); err != nil {
		return nil, err
	}
	if snap.LabelGroups, err = queryLabelGroups(ctx, tx, ""); err != nil {
		return nil, err
	}
	if snap.Labels, err = queryLabels(ctx, tx, ""); err != nil {
		return nil, err
	}
	snap.UserLabels, err = collect(ctx, tx, func(r *sql.Rows) (userLabel, error) {
		var ul userLabel
		return ul, r.Scan(&ul.UserID, &ul.LabelID)
	}, "SELECT user_id, label_id FROM user_labels ORDER BY user_id, label_id")
	if err != nil {
		return nil, err
	}
	if snap.Contacts, err = queryContacts(ctx, tx, ""); err != nil {
		return nil, err
	}
	if snap.Policy, err = queryPolicy(ctx, tx, ""); err != nil {
		return nil, err
	}
	tokens, err := queryTokens(ctx, tx, "")
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		snap.Tokens = append(snap.Tokens, snapshotToken{APIToken: t, Hash: t.Hash})
	}
	if snap.PolicyVersions, err = queryPolicyVersions(ctx, tx, true, ""); err != nil {
		return nil, err
	}
	if snap.HistorySettings, err = queryHistorySettings(ctx, tx, ""); err != nil {
		return nil, err
	}
	invites, err := queryMemberInvites(ctx, tx, "")
	if err != nil {
		return nil, err
	}
	for _, m := range invites {
		snap.MemberInvitations = append(snap.MemberInvitations, snapshotMemberInvite{MemberInvitation: m, TokenHash: m.TokenHash})
	}
	if snap.AutoAssign, err = queryAutoAssign(ctx, tx, ""); err != nil {
		return nil, err
	}
	if snap.TeamQueues, err = queryTeamQueues(ctx, tx, ""); err != nil {
		return nil, err
	}
	if snap.LeafAddresses, err = queryLeafAddresses(ctx, tx, ""); err != nil {
		return nil, err
	}
	if snap.SSOSettings, err = querySSOSettings(ctx, tx, ""); err != nil {
		return nil, err
	}
	return snap, tx.Commit()
}

// Restore replaces every organisation record and the applied index with
// what Snapshot wrote, in one transaction: on any error (an unreadable
// document, an unknown format or version, a record that does not fit)
// nothing changes. Site data is left as it is.
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("restore: read: %w", err)
	}
	var head snapshotHeader
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("restore: not a snapshot: %w", err)
	}
	if head.Format != snapshotFormat {
		return fmt.Errorf("restore: format %q is not %q: %w", head.Format, snapshotFormat, storage.ErrInvalid)
	}
	if head.Version != snapshotVersion {
		return fmt.Errorf("restore: snapshot version %d is not supported (this node reads version %d): %w",
			head.Version, snapshotVersion, storage.ErrInvalid)
	}
	var snap snapshotV1
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("restore: decode version %d snapshot: %w", head.Version, err)
	}
	if err := s.restore(ctx, &snap); err != nil {
		return fmt.Errorf("restore snapshot at index %d: %w", snap.AppliedIndex, err)
	}
	return nil
}

func (s *Store) restore(ctx context.Context, snap *snapshotV1) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// Every organisation table, children first.
	for _, table := range []string{
		"leaf_addresses", "sso_settings", "auto_assign", "team_queues", "history_settings", "member_invitations", "policy_versions", "user_labels", "team_memberships", "api_tokens", "contacts", "labels", "label_groups",
		"teams", "roles", "policy_rules", "users", "sites", "orgs",
	} {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
			return fmt.Errorf("empty %s: %w", table, err)
		}
	}
	if err := restoreRecords(ctx, tx, snap); err != nil {
		return err
	}
	if err := setAppliedIndex(ctx, tx, snap.AppliedIndex); err != nil {
		return err
	}
	return tx.Commit()
}

// restoreRecords inserts the records of snap, parents first, with the same
// checks Apply makes.
func restoreRecords(ctx context.Context, q querier, snap *snapshotV1) error {
	for _, o := range snap.Orgs {
		if err := putOrg(ctx, q, o); err != nil {
			return fmt.Errorf("org %s: %w", o.ID, err)
		}
	}
	for _, site := range snap.Sites {
		if err := putSite(ctx, q, site); err != nil {
			return fmt.Errorf("site %s: %w", site.ID, err)
		}
	}
	for _, su := range snap.Users {
		u := su.User
		u.PasswordHash = su.PasswordHash
		if err := putUser(ctx, q, u); err != nil {
			return fmt.Errorf("user %s: %w", u.ID, err)
		}
	}
	for _, r := range snap.Roles {
		if err := putRole(ctx, q, r); err != nil {
			return fmt.Errorf("role %s/%s: %w", r.OrgID, r.Name, err)
		}
	}
	for _, t := range snap.Teams {
		if err := putTeam(ctx, q, t); err != nil {
			return fmt.Errorf("team %s: %w", t.ID, err)
		}
	}
	for _, m := range snap.Memberships {
		if err := setTeamMember(ctx, q, m); err != nil {
			return fmt.Errorf("membership of user %s in team %s: %w", m.UserID, m.TeamID, err)
		}
	}
	for _, g := range snap.LabelGroups {
		if err := putLabelGroup(ctx, q, g); err != nil {
			return fmt.Errorf("label group %s: %w", g.ID, err)
		}
	}
	for _, l := range snap.Labels {
		if err := putLabel(ctx, q, l); err != nil {
			return fmt.Errorf("label %s: %w", l.ID, err)
		}
	}
	for _, ul := range snap.UserLabels {
		err := exec(ctx, q, "INSERT INTO user_labels (user_id, label_id) VALUES (?, ?)", ul.UserID, ul.LabelID)
		if err != nil {
			return fmt.Errorf("label %s of user %s: %w", ul.LabelID, ul.UserID, err)
		}
	}
	for _, c := range snap.Contacts {
		if err := putContact(ctx, q, c); err != nil {
			return fmt.Errorf("contact %s: %w", c.ID, err)
		}
	}
	if err := addPolicy(ctx, q, snap.Policy); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	for _, st := range snap.Tokens {
		t := st.APIToken
		t.Hash = st.Hash
		if err := putToken(ctx, q, t); err != nil {
			return fmt.Errorf("api token %s: %w", t.ID, err)
		}
	}
	for _, v := range snap.PolicyVersions {
		if err := putPolicyVersion(ctx, q, v); err != nil {
			return fmt.Errorf("policy version %s: %w", v.ID, err)
		}
	}
	for _, h := range snap.HistorySettings {
		if err := putHistorySettings(ctx, q, h); err != nil {
			return fmt.Errorf("history settings of %s: %w", h.OrgID, err)
		}
	}
	for _, sm := range snap.MemberInvitations {
		if err := restoreMemberInvite(ctx, q, sm.MemberInvitation, sm.TokenHash); err != nil {
			return fmt.Errorf("member invitation %s: %w", sm.ID, err)
		}
	}
	for _, a := range snap.AutoAssign {
		if err := setAutoAssign(ctx, q, a); err != nil {
			return fmt.Errorf("auto-assign of %s: %w", a.UserID, err)
		}
	}
	for _, t := range snap.TeamQueues {
		if err := setTeamQueue(ctx, q, t); err != nil {
			return fmt.Errorf("queue of team %s: %w", t.TeamID, err)
		}
	}
	for _, a := range snap.LeafAddresses {
		if err := putLeafAddress(ctx, q, a); err != nil {
			return fmt.Errorf("leaf address of node %s: %w", a.NodeID, err)
		}
	}
	for _, st := range snap.SSOSettings {
		if err := putSSOSettings(ctx, q, st); err != nil {
			return fmt.Errorf("sso settings of %s: %w", st.OrgID, err)
		}
	}
	return nil
}
