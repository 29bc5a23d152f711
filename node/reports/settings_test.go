package reports

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"siteline/storage"
	"siteline/web"
)

// settingsFake holds the history settings of organisation o1; others have
// the defaults.
type settingsFake struct{ h *storage.HistorySettings }

func (f settingsFake) HistorySettings(_ context.Context, orgID string) (storage.HistorySettings, error) {
	if orgID == "o1" && f.h != nil {
		return *f.h, nil
	}
	return storage.DefaultHistorySettings(orgID), nil
}

// withSettings gives the fixture's organisation its own lists, which the
// test may change afterwards.
func withSettings(f *fixture) *storage.HistorySettings {
	h := &storage.HistorySettings{OrgID: "o1",
		Outcomes: []storage.OutcomeDef{{Key: "fixed", Name: "Fixed"}, {Key: "solved", Name: "Solved"}},
		ReportFields: []storage.ReportFieldDef{
			{Key: "machine", Label: "Machine", Kind: storage.FieldText, Required: true},
			{Key: "findings", Label: "Findings", Kind: storage.FieldLongText}}}
	f.svc.d.Settings = settingsFake{h: h}
	f.svc.d.Fields = f.store
	return h
}

func fieldOf(err error) string {
	var ve *storage.ValidationError
	if errors.As(err, &ve) {
		return ve.Field + " " + ve.Problem
	}
	return ""
}

// A report is checked against the organisation's fields: unknown keys
// refused naming them, required ones enforced, long text allowed longer.
func TestReportsFollowTheOrganisationsFields(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	h := withSettings(f)

	for _, c := range []struct {
		name string
		in   web.ReportInput
		says string
	}{
		{"a default field the organisation replaced", web.ReportInput{Fields: map[string]string{"machine": "P4", "asset": "Pump"}}, `fields.asset "asset" is not a field`},
		{"a required field left out", web.ReportInput{Fields: map[string]string{"findings": "leak"}, Body: "x"}, "fields.machine (Machine) is required"},
		{"a required field blank", web.ReportInput{Fields: map[string]string{"machine": "  "}, Body: "x"}, "fields.machine (Machine) is required"},
		{"a one-line field too long", web.ReportInput{Fields: map[string]string{"machine": strings.Repeat("m", maxField+1)}}, "fields.machine must be at most 500"},
		{"a long text too long", web.ReportInput{Fields: map[string]string{"machine": "P4", "findings": strings.Repeat("f", maxLongField+1)}}, "fields.findings must be at most 5000"},
	} {
		_, err := f.svc.CreateReport(ctx, expert, "s1", c.in)
		if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(fieldOf(err), c.says) {
			t.Errorf("%s: %v, want a validation error saying %q", c.name, err, c.says)
		}
	}
	r, err := f.svc.CreateReport(ctx, expert, "s1", web.ReportInput{Fields: map[string]string{
		"machine": "P4", "findings": strings.Repeat("f", maxField+10)}})
	if err != nil {
		t.Fatalf("a report with the organisation's fields: %v", err)
	}

	// The organisation drops findings and asks for a site: the report
	// keeps its findings, shown under their key, and an edit keeps them
	// unless it clears them.
	h.ReportFields = []storage.ReportFieldDef{{Key: "machine", Label: "Machine", Kind: storage.FieldText}, {Key: "site", Label: "Site", Kind: storage.FieldText}}
	edited, err := f.svc.EditReport(ctx, expert, r.ID, web.ReportInput{Version: 1, Fields: map[string]string{"machine": "P5", "site": "North"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"machine": "P5", "site": "North", "findings": r.Fields["findings"]}; !reflect.DeepEqual(edited.Fields, want) {
		t.Errorf("edited fields %v, want %v", edited.Fields, want)
	}
	values := h.FieldValues(edited.Fields)
	if last := values[len(values)-1]; last.Key != "findings" || last.Label != "findings" || !last.Removed || last.Value == "" {
		t.Errorf("the dropped field shows as %+v, want it under its key", last)
	}
	cleared, err := f.svc.EditReport(ctx, expert, r.ID, web.ReportInput{Version: 2, Fields: map[string]string{"machine": "P5", "findings": ""}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cleared.Fields["findings"]; ok || cleared.Fields["machine"] != "P5" {
		t.Errorf("after clearing the dropped field: %v", cleared.Fields)
	}
	if _, err := f.svc.EditReport(ctx, expert, r.ID, web.ReportInput{Version: 3, Fields: map[string]string{"machine": "P5", "findings": "back"}}); !strings.Contains(fieldOf(err), "fields.findings") {
		t.Errorf("bringing back a dropped field no longer on the report: %v", err)
	}
}

// A session is given one of the organisation's outcomes, none, or the one
// it has even when the list no longer holds it.
func TestOutcomesFollowTheOrganisationsList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	h := withSettings(f)
	set := func(o string) error {
		_, err := f.svc.SetSessionFields(ctx, expert, "s1", web.SessionFieldsInput{Outcome: &o})
		return err
	}
	if err := set(storage.OutcomeNotSolved); !strings.Contains(fieldOf(err), `outcome "not_solved" is not an outcome of this organisation: use one of fixed, solved`) {
		t.Errorf("a default outcome the organisation replaced: %v", err)
	}
	if err := set("fixed"); err != nil {
		t.Fatalf("an outcome of the list: %v", err)
	}
	h.Outcomes = []storage.OutcomeDef{{Key: "solved", Name: "Solved"}}
	if err := set("fixed"); err != nil {
		t.Errorf("saving the session with the outcome it has, no longer in the list: %v", err)
	}
	notes := "checked again"
	if _, err := f.svc.SetSessionFields(ctx, expert, "s1", web.SessionFieldsInput{Notes: &notes}); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.SessionFields(ctx, expert, "s1")
	if err != nil || got.Outcome != "fixed" || got.Notes != notes {
		t.Errorf("session kept outcome %q, notes %q (%v)", got.Outcome, got.Notes, err)
	}
	if err := set(""); err != nil {
		t.Errorf("clearing the outcome: %v", err)
	}
	if err := set("fixed"); !strings.Contains(fieldOf(err), "outcome") {
		t.Errorf("a removed outcome given anew: %v", err)
	}
}

// An outcome the organisation marks as solved records the time to solve
// when it is given, keeps it when the session is saved again, and one
// that does not count as solved clears it.
func TestOutcomeThatCountsAsSolvedRecordsTheTimeToSolve(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	h := withSettings(f)
	h.Outcomes = []storage.OutcomeDef{{Key: "fixed", Name: "Fixed", Solved: true}, {Key: "parts", Name: "Waiting for parts"}}
	started := f.clock
	set := func(o string) storage.SessionSummary {
		t.Helper()
		got, err := f.svc.SetSessionFields(ctx, expert, "s1", web.SessionFieldsInput{Outcome: &o})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := set("fixed")
	first, ok := got.TimeToSolve()
	if got.SolvedAt == nil || !ok || first <= 0 {
		t.Fatalf("outcome fixed: solved at %v, time to solve %v %v", got.SolvedAt, first, ok)
	}
	if again := set("fixed"); again.SolvedAt == nil || !again.SolvedAt.Equal(*got.SolvedAt) {
		t.Errorf("saving the same outcome again moved the solved time from %v to %v", got.SolvedAt, again.SolvedAt)
	}
	if got := set("parts"); got.SolvedAt != nil {
		t.Errorf("an outcome that does not count as solved kept the solved time %v", got.SolvedAt)
	}
	if got := set("fixed"); got.SolvedAt == nil || !got.SolvedAt.After(started) {
		t.Errorf("fixed again: solved at %v", got.SolvedAt)
	}
}
