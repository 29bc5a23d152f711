package storage

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestHistorySettingsValidate(t *testing.T) {
	if err := DefaultHistorySettings("o1").Validate(); err != nil {
		t.Fatalf("the defaults are invalid: %v", err)
	}
	one := []OutcomeDef{{Key: "fixed", Name: "Fixed"}}
	for _, tt := range []struct {
		name  string
		h     HistorySettings
		field string
	}{
		{"no organisation", HistorySettings{Outcomes: one}, "org_id"},
		{"key with a capital", HistorySettings{OrgID: "o1", Outcomes: []OutcomeDef{{Key: "Fixed", Name: "F"}}}, "outcomes[0].key"},
		{"key starting with a digit", HistorySettings{OrgID: "o1", Outcomes: []OutcomeDef{{Key: "1st", Name: "F"}}}, "outcomes[0].key"},
		{"key too long", HistorySettings{OrgID: "o1", Outcomes: []OutcomeDef{{Key: strings.Repeat("k", 65), Name: "F"}}}, "outcomes[0].key"},
		{"name of two lines", HistorySettings{OrgID: "o1", Outcomes: []OutcomeDef{{Key: "f", Name: "F\nG"}}}, "outcomes[0].name"},
		{"empty label", HistorySettings{OrgID: "o1", Outcomes: one, ReportFields: []ReportFieldDef{{Key: "a", Kind: FieldText}}}, "report_fields[0].label"},
		{"too many fields", HistorySettings{OrgID: "o1", Outcomes: one, ReportFields: make([]ReportFieldDef, MaxReportFields+1)}, "report_fields"},
	} {
		err := tt.h.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("%s: %v, want an error on %s", tt.name, err, tt.field)
		}
	}
}

func TestFieldValuesShowDroppedKeys(t *testing.T) {
	h := HistorySettings{ReportFields: []ReportFieldDef{{Key: "machine", Label: "Machine"}, {Key: "site", Label: "Site"}}}
	got := h.FieldValues(map[string]string{"site": "North", "parts": "seal", "asset": "Pump"})
	want := []FieldValue{{Key: "machine", Label: "Machine"}, {Key: "site", Label: "Site", Value: "North"},
		{Key: "asset", Label: "asset", Value: "Pump", Removed: true}, {Key: "parts", Label: "parts", Value: "seal", Removed: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FieldValues = %+v\nwant %+v", got, want)
	}
}
