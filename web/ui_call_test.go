package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// startedCalls is a Calls that records the calls it is asked to create.
type startedCalls struct {
	Calls
	mu sync.Mutex
	in []CallInput
}

func (f *startedCalls) CreateCall(_ context.Context, _ Actor, in CallInput) (storage.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.in = append(f.in, in)
	return storage.Session{ID: fmt.Sprintf("call-%d", len(f.in))}, nil
}

func (f *startedCalls) last() CallInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.in[len(f.in)-1]
}

// The new-call form names the call and its goal; a caller who skips them,
// or leaves the name empty, gets the call named after the contact called
// or after themselves. Another organisation's contact is not found.
func TestStartingACallNamesIt(t *testing.T) {
	calls := &startedCalls{}
	s, d := newTestServer(t, withServices, func(deps *Deps) { deps.Calls = calls })
	own := d.addOrgRecords(d.org.ID, "own")
	other := d.addOrgRecords("o2", "other")
	d.addUser("u1", adminEmail, testPass, policy.CreateConference)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)

	for _, c := range []struct {
		form url.Values
		want CallInput
	}{
		{url.Values{"name": {"  Press 7 stops  "}, "goal": {"Restart it safely"}}, CallInput{Name: "Press 7 stops", Goal: "Restart it safely"}},
		{url.Values{"name": {"Pump"}, "goal": {"Find the leak"}, "skip": {"1"}}, CallInput{Name: "Call by User u1"}},
		{url.Values{"name": {""}, "goal": {"Check the valve"}}, CallInput{Name: "Call by User u1", Goal: "Check the valve"}},
		{url.Values{"contact": {own["contact"]}}, CallInput{Name: "Call with Contact own"}},
		{url.Values{"contact": {own["contact"]}, "name": {"Valve on line 2"}}, CallInput{Name: "Valve on line 2"}},
	} {
		got := b.form("/calls", c.form)
		if got.status != http.StatusSeeOther {
			t.Fatalf("POST /calls %v = %d %s", c.form, got.status, got.body)
		}
		if in := calls.last(); in != c.want {
			t.Errorf("POST /calls %v created %+v, want %+v", c.form, in, c.want)
		}
	}
	before := len(calls.in)
	if got := b.form("/calls", url.Values{"contact": {other["contact"]}}); got.status != http.StatusNotFound {
		t.Errorf("calling another organisation's contact = %d, want 404", got.status)
	}
	if len(calls.in) != before {
		t.Error("a call was created for another organisation's contact")
	}
}
