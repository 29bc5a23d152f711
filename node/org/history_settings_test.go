package org

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"siteline/storage"
)

func TestHistorySettings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	got, err := f.svc.HistorySettings(ctx, f.admin)
	if err != nil || !reflect.DeepEqual(got, storage.DefaultHistorySettings(f.orgID)) {
		t.Fatalf("settings before any change = %+v, %v; want the defaults", got, err)
	}

	in := storage.HistorySettings{OrgID: "another-org",
		Outcomes:     []storage.OutcomeDef{{Key: "fixed", Name: "  Fixed on site "}, {Key: "solved", Name: "Solved"}},
		ReportFields: []storage.ReportFieldDef{{Key: "machine", Label: "Machine", Required: true}, {Key: "findings", Label: "Findings", Kind: storage.FieldLongText}}}
	saved, err := f.svc.PutHistorySettings(ctx, f.admin, in)
	if err != nil {
		t.Fatalf("PutHistorySettings: %v", err)
	}
	want := storage.HistorySettings{OrgID: f.orgID,
		Outcomes: []storage.OutcomeDef{{Key: "fixed", Name: "Fixed on site"}, {Key: "solved", Name: "Solved"}},
		ReportFields: []storage.ReportFieldDef{{Key: "machine", Label: "Machine", Kind: storage.FieldText, Required: true},
			{Key: "findings", Label: "Findings", Kind: storage.FieldLongText}}}
	if !reflect.DeepEqual(saved, want) {
		t.Errorf("saved %+v, want %+v (the actor's organisation, trimmed, text by default)", saved, want)
	}
	if got, _ := f.svc.HistorySettings(ctx, f.admin); !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v, want %+v", got, want)
	}
	if e := f.audits.last(); e.action != "history_settings.update" || e.target != f.orgID {
		t.Errorf("audit entry %+v", e)
	}

	many := make([]storage.OutcomeDef, storage.MaxOutcomes+1)
	for i := range many {
		many[i] = storage.OutcomeDef{Key: "o" + strings.Repeat("x", i), Name: "O"}
	}
	for _, tt := range []struct {
		name  string
		h     storage.HistorySettings
		field string
	}{
		{"duplicate outcome", storage.HistorySettings{Outcomes: []storage.OutcomeDef{{Key: "a", Name: "A"}, {Key: "a", Name: "B"}}}, "outcomes[1].key"},
		{"empty name", storage.HistorySettings{Outcomes: []storage.OutcomeDef{{Key: "a", Name: "  "}}}, "outcomes[0].name"},
		{"key format", storage.HistorySettings{Outcomes: []storage.OutcomeDef{{Key: "Not Solved", Name: "x"}}}, "outcomes[0].key"},
		{"too many", storage.HistorySettings{Outcomes: many}, "outcomes"},
		{"duplicate field", storage.HistorySettings{Outcomes: want.Outcomes,
			ReportFields: []storage.ReportFieldDef{{Key: "x", Label: "X"}, {Key: "x", Label: "Y"}}}, "report_fields[1].key"},
		{"unknown kind", storage.HistorySettings{Outcomes: want.Outcomes,
			ReportFields: []storage.ReportFieldDef{{Key: "x", Label: "X", Kind: "number"}}}, "report_fields[0].kind"},
	} {
		_, err := f.svc.PutHistorySettings(ctx, f.admin, tt.h)
		var ve *storage.ValidationError
		if !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("%s: err = %v, want a validation error on %s", tt.name, err, tt.field)
		}
	}
	if got, _ := f.svc.HistorySettings(ctx, f.admin); !reflect.DeepEqual(got, want) {
		t.Errorf("refused changes changed the settings: %+v", got)
	}
}
