package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"siteline/storage"
)

// appliedIndexKey is the meta key under which the Raft index of the last
// applied command is kept. SetMeta refuses it.
const appliedIndexKey = "raft.applied_index"

// Apply applies cmd at Raft log index in one IMMEDIATE transaction that
// also records index. A command at or below the applied index is skipped.
//
// A command that fails for a reason of its own (validation, a constraint, a
// missing record: the same on every node) is rolled back whole; the index
// then advances alone in a second transaction and the error is returned. A
// failure local to this node (I/O, a cancelled context) does not advance the
// index: the command was not judged, and must be applied again.
func (s *Store) Apply(ctx context.Context, index uint64, cmd storage.Command) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply index %d: begin: %w", index, err)
	}
	defer tx.Rollback() // no-op after Commit

	applied, err := appliedIndex(ctx, tx)
	if err != nil {
		return fmt.Errorf("apply index %d: %w", index, err)
	}
	if index <= applied {
		return nil
	}

	applyErr := cmd.Validate()
	if applyErr == nil {
		applyErr = applyChanges(ctx, tx, cmd.Changes)
	}
	if applyErr == nil {
		if err := setAppliedIndex(ctx, tx, index); err != nil {
			return fmt.Errorf("apply index %d: %w", index, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("apply index %d: commit: %w", index, err)
		}
		return nil
	}

	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("apply index %d: %w (rollback: %v)", index, applyErr, err)
	}
	if !deterministic(applyErr) {
		return fmt.Errorf("apply index %d: %w", index, applyErr)
	}
	if err := s.advanceIndex(ctx, index); err != nil {
		return fmt.Errorf("apply index %d: %w (advancing index: %v)", index, applyErr, err)
	}
	return fmt.Errorf("apply index %d: %w", index, applyErr)
}

// AppliedIndex returns the index of the last command applied, 0 when none.
func (s *Store) AppliedIndex(ctx context.Context) (uint64, error) {
	index, err := appliedIndex(ctx, s.read)
	if err != nil {
		return 0, fmt.Errorf("applied index: %w", err)
	}
	return index, nil
}

// advanceIndex records index alone, for a command refused as a whole.
func (s *Store) advanceIndex(ctx context.Context, index uint64) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := setAppliedIndex(ctx, tx, index); err != nil {
		return err
	}
	return tx.Commit()
}

func appliedIndex(ctx context.Context, q querier) (uint64, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", appliedIndexKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	index, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stored applied index %q: %w", v, err)
	}
	return index, nil
}

// stillExists checks the record an update (Change.Existing) puts is
// there.
func stillExists(ctx context.Context, q querier, ch storage.Change) error {
	var table, id string
	switch {
	case ch.Op == storage.OpPutUser && ch.User != nil:
		table, id = "users", ch.User.ID
	case ch.Op == storage.OpPutTeam && ch.Team != nil:
		table, id = "teams", ch.Team.ID
	case ch.Op == storage.OpPutLabelGroup && ch.LabelGroup != nil:
		table, id = "label_groups", ch.LabelGroup.ID
	case ch.Op == storage.OpPutLabel && ch.Label != nil:
		table, id = "labels", ch.Label.ID
	case ch.Op == storage.OpPutContact && ch.Contact != nil:
		table, id = "contacts", ch.Contact.ID
	default:
		return &storage.ValidationError{Field: "existing", Problem: fmt.Sprintf("is not allowed on %s", ch.Op)}
	}
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %s no longer exists (deleted meanwhile): %w", strings.TrimSuffix(table, "s"), id, storage.ErrNotFound)
	}
	return err
}

func setAppliedIndex(ctx context.Context, q querier, index uint64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		appliedIndexKey, strconv.FormatUint(index, 10))
	return err
}

// applyChanges applies each change in order, stopping at the first error.
func applyChanges(ctx context.Context, q querier, changes []storage.Change) error {
	for i, ch := range changes {
		if err := applyChange(ctx, q, ch); err != nil {
			return fmt.Errorf("change %d (%s): %w", i, ch.Op, err)
		}
	}
	return nil
}

// applyChange dispatches one change. Deleting an absent record is not an
// error. Secrets that JSON does not carry on the records travel on the
// change and are copied in here.
func applyChange(ctx context.Context, q querier, ch storage.Change) error {
	if ch.Existing {
		if err := stillExists(ctx, q, ch); err != nil {
			return err
		}
	}
	switch ch.Op {
	case storage.OpPutOrg:
		return putOrg(ctx, q, *ch.Org)
	case storage.OpPutSite:
		return putSite(ctx, q, *ch.Site)
	case storage.OpPutUser:
		u := *ch.User
		if ch.PasswordHash != "" {
			u.PasswordHash = ch.PasswordHash
		}
		if err := putUser(ctx, q, u); err != nil {
			return err
		}
		if !u.Active {
			// A deactivated user's browser sessions end on every node
			// (they are node-local; the change reaches each one).
			return exec(ctx, q, "DELETE FROM web_sessions WHERE user_id = ?", u.ID)
		}
		return nil
	case storage.OpDeleteUser:
		return deleteUser(ctx, q, ch.ID)
	case storage.OpPutRole:
		return putRole(ctx, q, *ch.Role)
	case storage.OpDeleteRole:
		return deleteRole(ctx, q, ch.OrgID, ch.ID)
	case storage.OpPutTeam:
		return putTeam(ctx, q, *ch.Team)
	case storage.OpDeleteTeam:
		return deleteTeam(ctx, q, ch.ID)
	case storage.OpSetTeamMember:
		return setTeamMember(ctx, q, *ch.Membership)
	case storage.OpDelTeamMember:
		return deleteTeamMember(ctx, q, *ch.Membership)
	case storage.OpPutLabelGroup:
		return putLabelGroup(ctx, q, *ch.LabelGroup)
	case storage.OpDelLabelGroup:
		return deleteLabelGroup(ctx, q, ch.ID)
	case storage.OpPutLabel:
		return putLabel(ctx, q, *ch.Label)
	case storage.OpDelLabel:
		return deleteLabel(ctx, q, ch.ID)
	case storage.OpPutContact:
		return putContact(ctx, q, *ch.Contact)
	case storage.OpDelContact:
		return deleteContact(ctx, q, ch.ID)
	case storage.OpAddPolicy:
		return addPolicy(ctx, q, ch.Rules)
	case storage.OpRemovePolicy:
		return removePolicy(ctx, q, ch.Rules)
	case storage.OpReplacePolicy:
		return replacePolicy(ctx, q, ch.OrgID, ch.Rules)
	case storage.OpPutToken:
		t := *ch.Token
		if len(ch.TokenHash) > 0 {
			t.Hash = ch.TokenHash
		}
		return putToken(ctx, q, t)
	case storage.OpDelToken:
		return deleteToken(ctx, q, ch.ID)
	case storage.OpDelUserTokens:
		return exec(ctx, q, "DELETE FROM api_tokens WHERE user_id = ?", ch.ID)
	case storage.OpPutPolicyVersion:
		return putPolicyVersion(ctx, q, *ch.PolicyVersion)
	case storage.OpPutHistorySettings:
		return putHistorySettings(ctx, q, *ch.HistorySettings)
	case storage.OpPutMemberInvite:
		m := *ch.MemberInvitation
		m.TokenHash = ch.TokenHash
		return putMemberInvite(ctx, q, m)
	case storage.OpRevokeMemberInvite:
		return revokeMemberInvite(ctx, q, *ch.MemberInvitation)
	case storage.OpAcceptMemberInvite:
		return acceptMemberInvite(ctx, q, *ch.MemberInvitation, ch.TokenHash)
	case storage.OpSetUserLabels:
		return setUserLabels(ctx, q, ch.ID, ch.LabelIDs)
	case storage.OpSetAutoAssign:
		return setAutoAssign(ctx, q, *ch.AutoAssign)
	case storage.OpSetTeamQueue:
		return setTeamQueue(ctx, q, *ch.TeamQueue)
	case storage.OpPutLeafAddress:
		return putLeafAddress(ctx, q, *ch.LeafAddress)
	case storage.OpPutSSOSettings:
		return putSSOSettings(ctx, q, *ch.SSOSettings)
	}
	return &storage.ValidationError{Field: "op", Problem: fmt.Sprintf("unknown operation %q", ch.Op)}
}
