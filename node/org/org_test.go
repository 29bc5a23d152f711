package org

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// A change whose audit entry cannot be written stands: it is reported as
// made, and the lost entry is logged and counted.
func TestCommitKeepsTheChangeWhenTheAuditFails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.audits.fail = errors.New("disk full")
	team, err := f.svc.CreateTeam(ctx, f.admin, "Night shift")
	if err != nil {
		t.Fatalf("create team with a failing audit log: %v, want the change reported as made", err)
	}
	got, err := f.log.store.Team(ctx, team.ID)
	if err != nil || got.Name != "Night shift" {
		t.Fatalf("team after the commit = %+v, %v; want it stored", got, err)
	}
	if f.lost.n != 1 {
		t.Errorf("lost audit entries counted = %d, want 1", f.lost.n)
	}
	for _, want := range []string{"audit log not written", "team.create", team.ID, "disk full"} {
		if !strings.Contains(f.out.String(), want) {
			t.Errorf("the node's log does not say %q:\n%s", want, f.out.String())
		}
	}

	// A change that is not committed leaves no audit entry and counts
	// nothing.
	f.audits.fail = nil
	f.log.refuse = fmt.Errorf("propose command: %w: no raft leader", storage.ErrFederationUnreachable)
	if _, err := f.svc.CreateTeam(ctx, f.admin, "Day shift"); !errors.Is(err, storage.ErrFederationUnreachable) {
		t.Errorf("create team with no leader = %v, want ErrFederationUnreachable", err)
	}
	if f.audits.count() != 0 || f.lost.n != 1 {
		t.Errorf("after a change not committed: %d audit entries, %d lost; want 0 and 1", f.audits.count(), f.lost.n)
	}
}

// Every change leaves one audit entry naming who did what to which record.
func TestChangesAreAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	team, err := f.svc.CreateTeam(ctx, f.admin, "Night shift")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.audits.last(); got.actor != f.admin.UserID || got.action != "team.create" || got.target != team.ID {
		t.Errorf("audit entry = %+v, want team.create of %s by %s", got, team.ID, f.admin.UserID)
	}
	if _, err := f.svc.RenameTeam(ctx, f.local, team.ID, "Late shift"); err != nil {
		t.Fatal(err)
	}
	got := f.audits.last()
	if got.actor != "cli" || got.action != "team.rename" {
		t.Errorf("audit entry = %+v, want team.rename by cli", got)
	}
	if d, _ := got.detail.(map[string]string); d["from"] != "Night shift" || d["to"] != "Late shift" {
		t.Errorf("rename detail = %v", got.detail)
	}
	res, err := f.svc.Grant(ctx, f.admin, web.GrantInput{Subject: "role:regular", Permission: policy.AdminLabels})
	if err != nil || !res.Changed {
		t.Fatalf("grant = %+v, %v", res, err)
	}
	if got := f.audits.last(); got.action != "policy.grant" || got.target != "role:regular" {
		t.Errorf("audit entry = %+v, want policy.grant of role:regular", got)
	}
	if f.audits.count() != 3 {
		t.Errorf("%d audit entries for 3 changes", f.audits.count())
	}
}

// logPositions are what the replicated log says of where a command stood.
var logPositions = regexp.MustCompile(`index \d+|change \d+ \(`)

// The store refuses an update of a team deleted meanwhile, through the
// replicated log, in words of its own: the error names the team and keeps
// its kind, and shows no log index or change ordinal.
func TestErrorsShowNoLogPositions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	team, err := f.svc.CreateTeam(ctx, f.admin, "Night shift")
	if err != nil {
		t.Fatal(err)
	}
	f.log.before = func() {
		// Another node deletes the team after this one read it.
		if err := f.log.apply(ctx, storage.Command{Changes: []storage.Change{{Op: storage.OpDeleteTeam, ID: team.ID}}, ActorID: "elsewhere"}); err != nil {
			t.Error(err)
		}
	}
	_, err = f.svc.RenameTeam(ctx, f.admin, team.ID, "Late shift")
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("rename of a team deleted meanwhile = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), team.ID) || logPositions.MatchString(err.Error()) {
		t.Errorf("error %q: want the team named and no log index or change ordinal", err)
	}

	f.log.barrier = fmt.Errorf("read barrier: %w: this node's store has applied index 41 of the leader's 57: %w", storage.ErrFederationUnreachable, context.DeadlineExceeded)
	err = f.svc.ReadBarrier(ctx)
	if !errors.Is(err, storage.ErrFederationUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read barrier = %v, want ErrFederationUnreachable and the deadline kept", err)
	}
	if err == nil || logPositions.MatchString(err.Error()) || !strings.Contains(err.Error(), "lags behind") {
		t.Errorf("read barrier error %q: want the lag said without log indexes", err)
	}
}

// A record of another organisation is not found, whatever the use case,
// and the attempt changes nothing.
func TestAnotherOrganisationsRecordsAreNotFound(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	otherAdmin := f.addOrg("org2", "root@other.example")
	other := web.Actor{UserID: otherAdmin, OrgID: "org2"}
	team, err := f.svc.CreateTeam(ctx, other, "Theirs")
	if err != nil {
		t.Fatal(err)
	}
	group, err := f.svc.PutLabelGroup(ctx, other, storage.LabelGroup{Name: "Theirs", Color: "#112233"})
	if err != nil {
		t.Fatal(err)
	}
	label, err := f.svc.PutLabel(ctx, other, storage.Label{GroupID: group.ID, Name: "Theirs"})
	if err != nil {
		t.Fatal(err)
	}
	contact, err := f.svc.PutContact(ctx, other, storage.Contact{Name: "Theirs"})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := f.svc.CreateToken(ctx, other, web.TokenInput{Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	audited := f.audits.count()
	name := "Mine"
	for _, tt := range []struct {
		name, kind, id string
		do             func(a web.Actor) error
	}{
		{"update user", "user", otherAdmin, func(a web.Actor) error {
			_, err := f.svc.UpdateUser(ctx, a, otherAdmin, web.UserPatch{Name: &name})
			return err
		}},
		{"rename team", "team", team.ID, func(a web.Actor) error { _, err := f.svc.RenameTeam(ctx, a, team.ID, name); return err }},
		{"delete team", "team", team.ID, func(a web.Actor) error { return f.svc.DeleteTeam(ctx, a, team.ID) }},
		{"join team", "team", team.ID, func(a web.Actor) error {
			return f.svc.SetTeamMember(ctx, a, team.ID, a.UserID, storage.TeamMember)
		}},
		{"put user in a team", "user", otherAdmin, func(a web.Actor) error {
			mine, err := f.svc.CreateTeam(ctx, a, "Mine "+a.UserID)
			if err != nil {
				return err
			}
			return f.svc.SetTeamMember(ctx, a, mine.ID, otherAdmin, storage.TeamMember)
		}},
		{"update label group", "label group", group.ID, func(a web.Actor) error {
			_, err := f.svc.PutLabelGroup(ctx, a, storage.LabelGroup{ID: group.ID, Name: name, Color: "#000000"})
			return err
		}},
		{"delete label group", "label group", group.ID, func(a web.Actor) error { return f.svc.DeleteLabelGroup(ctx, a, group.ID) }},
		{"delete label", "label", label.ID, func(a web.Actor) error { return f.svc.DeleteLabel(ctx, a, label.ID) }},
		{"update contact", "contact", contact.ID, func(a web.Actor) error {
			_, err := f.svc.PutContact(ctx, a, storage.Contact{ID: contact.ID, Name: name})
			return err
		}},
		{"delete contact", "contact", contact.ID, func(a web.Actor) error { return f.svc.DeleteContact(ctx, a, contact.ID) }},
		{"revoke token", "API token", token.ID, func(a web.Actor) error { return f.svc.RevokeOrgToken(ctx, a, token.ID) }},
	} {
		for _, a := range []web.Actor{f.admin, f.local} {
			err := tt.do(a)
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s of org2 as %s = %v, want ErrNotFound", tt.name, actorID(a), err)
				continue
			}
			if want := tt.kind + " " + tt.id; !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not name %q", tt.name, err, want)
			}
		}
	}
	// Naming another organisation's record in a field is a bad field.
	_, err = f.svc.PutLabel(ctx, f.admin, storage.Label{GroupID: group.ID, Name: name})
	var ve *storage.ValidationError
	if !errors.As(err, &ve) || ve.Field != "group_id" {
		t.Errorf("label in org2's group = %v, want a refusal of group_id", err)
	}
	_, err = f.svc.PutContact(ctx, f.admin, storage.Contact{Name: name, UserID: otherAdmin})
	if !errors.As(err, &ve) || ve.Field != "user_id" {
		t.Errorf("contact linked to org2's user = %v, want a refusal of user_id", err)
	}
	// Only the teams the test made in org1 were audited; org2 is intact.
	if got, _ := f.log.store.Team(ctx, team.ID); got.Name != "Theirs" {
		t.Errorf("org2's team = %+v, want it untouched", got)
	}
	if got, _ := f.log.store.User(ctx, otherAdmin); got.Name != "Root" {
		t.Errorf("org2's administrator = %+v, want it untouched", got)
	}
	if toks, _ := f.log.store.OrgTokens(ctx, "org2"); len(toks) != 1 {
		t.Errorf("org2 holds %d tokens, want its 1", len(toks))
	}
	if n := f.audits.count() - audited; n != 2 {
		t.Errorf("%d audit entries, want the 2 teams made in org1", n)
	}
}
