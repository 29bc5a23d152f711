package sqlite

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"siteline/storage"
)

func TestHistorySettingsApply(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())

	got, err := s.HistorySettings(ctx, "o1")
	if err != nil || !reflect.DeepEqual(got, storage.DefaultHistorySettings("o1")) {
		t.Fatalf("settings never set = %+v, %v; want the defaults", got, err)
	}

	own := storage.HistorySettings{OrgID: "o1",
		Outcomes: []storage.OutcomeDef{{Key: "fixed", Name: "Fixed"}, {Key: "solved", Name: "Solved"}},
		ReportFields: []storage.ReportFieldDef{
			{Key: "machine", Label: "Machine", Kind: storage.FieldText, Required: true},
			{Key: "findings", Label: "Findings", Kind: storage.FieldLongText, Hint: "What you saw"},
		}}
	mustApply(t, s, 2, viaJSON(t, cmd(storage.Change{Op: storage.OpPutHistorySettings, HistorySettings: &own})))
	if got, err := s.HistorySettings(ctx, "o1"); err != nil || !reflect.DeepEqual(got, own) {
		t.Errorf("settings = %+v, %v; want %+v", got, err, own)
	}
	if got, _ := s.HistorySettings(ctx, "o2"); !reflect.DeepEqual(got, storage.DefaultHistorySettings("o2")) {
		t.Errorf("another organisation's settings changed: %+v", got)
	}

	// Settings every node would refuse change nothing.
	index := uint64(2)
	for _, tt := range []struct {
		name string
		h    storage.HistorySettings
		want error
		says string
	}{
		{"duplicate key", storage.HistorySettings{OrgID: "o1", Outcomes: []storage.OutcomeDef{{Key: "a", Name: "A"}, {Key: "a", Name: "B"}}}, storage.ErrInvalid, "outcomes[1].key"},
		{"no outcomes", storage.HistorySettings{OrgID: "o1"}, storage.ErrInvalid, "at least one outcome"},
		{"unknown org", storage.HistorySettings{OrgID: "nope", Outcomes: []storage.OutcomeDef{{Key: "a", Name: "A"}}}, storage.ErrNotFound, "org nope"},
	} {
		index++
		err := s.Apply(ctx, index, viaJSON(t, cmd(storage.Change{Op: storage.OpPutHistorySettings, HistorySettings: &tt.h})))
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: Apply = %v, want %v saying %q", tt.name, err, tt.want, tt.says)
		}
	}
	if got, _ := s.HistorySettings(ctx, "o1"); !reflect.DeepEqual(got, own) {
		t.Errorf("a refused change changed the settings: %+v", got)
	}
	if err := s.Apply(ctx, index+1, cmd(storage.Change{Op: storage.OpPutHistorySettings})); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("a change without settings: %v", err)
	}

	// A snapshot carries them to another node.
	var buf bytes.Buffer
	if err := s.Snapshot(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dst, _ := openTestStore(t)
	if err := dst.Restore(ctx, &buf); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got, err := dst.HistorySettings(ctx, "o1"); err != nil || !reflect.DeepEqual(got, own) {
		t.Errorf("restored settings = %+v, %v; want %+v", got, err, own)
	}
}
