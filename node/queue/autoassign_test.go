package queue

import (
	"context"
	"errors"
	"testing"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Who may read and switch whose auto-assign, and set a team's strategy.
func TestQueuePermissions(t *testing.T) {
	r := newRig(t, storage.StrategyRoundRobin)
	ctx := context.Background()
	lead, member, outsider := web.Actor{UserID: "l1", OrgID: "o1"}, web.Actor{UserID: "m1", OrgID: "o1"}, web.Actor{UserID: "x1", OrgID: "o1"}
	forbidden := func(err error) string {
		var f *storage.ForbiddenError
		if errors.As(err, &f) {
			return f.Permission
		}
		return ""
	}
	for _, c := range []struct {
		name string
		err  error
		perm string
	}{
		{"member reads own", func() error { _, err := r.svc.AutoAssign(ctx, member, ""); return err }(), ""},
		{"outsider switches own", func() error { _, err := r.svc.SetAutoAssign(ctx, outsider, "", false); return err }(), policy.AutoAssign},
		{"member switches another", func() error { _, err := r.svc.SetAutoAssign(ctx, member, "m2", false); return err }(), policy.ManageQueues},
		{"lead switches a member", func() error { _, err := r.svc.SetAutoAssign(ctx, lead, "m2", false); return err }(), ""},
		{"lead switches someone out of scope", func() error { _, err := r.svc.SetAutoAssign(ctx, lead, "x1", false); return err }(), policy.ManageQueues},
		{"member sets the strategy", func() error { _, err := r.svc.SetStrategy(ctx, member, "t1", storage.StrategyLongestIdle); return err }(), policy.ManageQueues},
		{"lead sets the strategy", func() error { _, err := r.svc.SetStrategy(ctx, lead, "t1", storage.StrategyLongestIdle); return err }(), ""},
		{"outsider lists the queue", func() error { _, err := r.svc.ListTeamQueue(ctx, outsider, "t1"); return err }(), policy.ManageQueues},
		{"member lists the queue", func() error { _, err := r.svc.ListTeamQueue(ctx, member, "t1"); return err }(), ""},
	} {
		if got := forbidden(c.err); got != c.perm || (c.perm == "" && c.err != nil) {
			t.Errorf("%s: %v (refusal names %q, want %q)", c.name, c.err, got, c.perm)
		}
	}
	if _, err := r.svc.SetStrategy(ctx, lead, "nope", storage.StrategyRoundRobin); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown team = %v, want not found", err)
	}
	var v *storage.ValidationError
	if _, err := r.svc.SetStrategy(ctx, lead, "t1", "random"); !errors.As(err, &v) || v.Field != "strategy" {
		t.Errorf("bad strategy = %v, want a validation error on strategy", err)
	}
	if _, err := r.svc.SetAutoAssign(ctx, lead, "ghost", false); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown user = %v, want not found", err)
	}
	if got := r.audit.count("queue.strategy.set"); got != 1 {
		t.Errorf("%d strategy audits, want 1", got)
	}
	if err := r.svc.Enqueue(ctx, "o1", "nope", "call", "l1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("enqueue to an unknown team = %v", err)
	}
}
