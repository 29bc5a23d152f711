package storage

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// An organisation's history settings are the two lists its people fill a
// session's history in with: the outcomes a session can be given, and the
// structured fields of a service report. They are organisation data,
// replicated through the log (OpPutHistorySettings); an organisation that
// never set them has the defaults, the lists Siteline always had, so that
// what was written before stays valid.
//
// Values are stored by key. A key taken out of a list stays on the
// sessions and reports that have it: they show it by its key.

// Report field kinds: one line of text, or several.
const (
	FieldText     = "text"
	FieldLongText = "long_text"
)

// Limits of the history settings.
const (
	MaxOutcomes     = 20
	MaxReportFields = 20
	maxSettingKey   = 64
	maxSettingName  = 80
	maxSettingHint  = 200
)

// OutcomeDef is one outcome a session can be given.
type OutcomeDef struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	// Solved marks an outcome that counts as solved: giving it records
	// the solved time, from which the time to solve is measured.
	Solved bool `json:"solved,omitempty"`
}

// ReportFieldDef is one structured field of a service report.
type ReportFieldDef struct {
	Key      string `json:"key"`
	Label    string `json:"label"`
	Kind     string `json:"kind"` // FieldText or FieldLongText
	Required bool   `json:"required,omitempty"`
	Hint     string `json:"hint,omitempty"`
}

// HistorySettings are an organisation's outcomes and report fields, each
// list in the order forms show it.
type HistorySettings struct {
	OrgID        string           `json:"org_id"`
	Outcomes     []OutcomeDef     `json:"outcomes"`
	ReportFields []ReportFieldDef `json:"report_fields"`
}

// DefaultHistorySettings are the settings of an organisation that never
// set its own.
func DefaultHistorySettings(orgID string) HistorySettings {
	return HistorySettings{
		OrgID: orgID,
		Outcomes: []OutcomeDef{
			{Key: OutcomeSolved, Name: "Solved", Solved: true},
			{Key: OutcomeNotSolved, Name: "Not solved"},
			{Key: OutcomeFollowUp, Name: "Follow-up needed"},
		},
		ReportFields: []ReportFieldDef{
			{Key: "asset", Label: "Asset", Kind: FieldText, Hint: "Machine, line or equipment"},
			{Key: "fault", Label: "Fault", Kind: FieldText, Hint: "What was wrong"},
			{Key: "action", Label: "Action taken", Kind: FieldText, Hint: "What was done"},
			{Key: "parts", Label: "Parts", Kind: FieldText, Hint: "Parts used or to order"},
		},
	}
}

// Outcome returns the outcome of key, if the list has it.
func (h HistorySettings) Outcome(key string) (OutcomeDef, bool) {
	for _, o := range h.Outcomes {
		if o.Key == key {
			return o, true
		}
	}
	return OutcomeDef{}, false
}

// OutcomeKeys lists the outcomes' keys, in order.
func (h HistorySettings) OutcomeKeys() []string {
	keys := make([]string, len(h.Outcomes))
	for i, o := range h.Outcomes {
		keys[i] = o.Key
	}
	return keys
}

// ReportField returns the report field of key, if the list has it.
func (h HistorySettings) ReportField(key string) (ReportFieldDef, bool) {
	for _, f := range h.ReportFields {
		if f.Key == key {
			return f, true
		}
	}
	return ReportFieldDef{}, false
}

// Normalize trims the keys, names, labels and hints (a key is otherwise
// checked as given, not lower-cased), and gives a field without a kind
// FieldText.
func (h *HistorySettings) Normalize() {
	for i := range h.Outcomes {
		o := &h.Outcomes[i]
		o.Key, o.Name = strings.TrimSpace(o.Key), strings.TrimSpace(o.Name)
	}
	for i := range h.ReportFields {
		f := &h.ReportFields[i]
		f.Key, f.Label, f.Hint = strings.TrimSpace(f.Key), strings.TrimSpace(f.Label), strings.TrimSpace(f.Hint)
		if f.Kind == "" {
			f.Kind = FieldText
		}
	}
}

// Validate checks the settings as they are to be stored, naming the first
// problem's field (outcomes[2].key, report_fields[0].label...).
func (h HistorySettings) Validate() error {
	bad := func(field, problem string) error { return &ValidationError{Field: field, Problem: problem} }
	if h.OrgID == "" {
		return bad("org_id", "is required")
	}
	switch {
	case len(h.Outcomes) == 0:
		return bad("outcomes", "must list at least one outcome")
	case len(h.Outcomes) > MaxOutcomes:
		return bad("outcomes", fmt.Sprintf("must list at most %d outcomes, not %d", MaxOutcomes, len(h.Outcomes)))
	case len(h.ReportFields) > MaxReportFields:
		return bad("report_fields", fmt.Sprintf("must list at most %d fields, not %d", MaxReportFields, len(h.ReportFields)))
	}
	seen := map[string]int{}
	for i, o := range h.Outcomes {
		at := fmt.Sprintf("outcomes[%d]", i)
		if err := checkSettingKey(at+".key", o.Key); err != nil {
			return err
		}
		if _, dup := seen[o.Key]; dup {
			return bad(at+".key", fmt.Sprintf("%q is already the key of an earlier outcome", o.Key))
		}
		seen[o.Key] = i
		if err := checkSettingText(at+".name", o.Name, maxSettingName, true); err != nil {
			return err
		}
	}
	seen = map[string]int{}
	for i, f := range h.ReportFields {
		at := fmt.Sprintf("report_fields[%d]", i)
		if err := checkSettingKey(at+".key", f.Key); err != nil {
			return err
		}
		if _, dup := seen[f.Key]; dup {
			return bad(at+".key", fmt.Sprintf("%q is already the key of an earlier field", f.Key))
		}
		seen[f.Key] = i
		if err := checkSettingText(at+".label", f.Label, maxSettingName, true); err != nil {
			return err
		}
		if err := checkSettingText(at+".hint", f.Hint, maxSettingHint, false); err != nil {
			return err
		}
		if f.Kind != FieldText && f.Kind != FieldLongText {
			return bad(at+".kind", fmt.Sprintf("%q is not a kind of field (%s or %s)", f.Kind, FieldText, FieldLongText))
		}
	}
	return nil
}

// ValidSettingKey reports whether key can name an outcome or a report
// field: a lower-case ASCII letter, then up to 63 lower-case letters,
// digits and underscores.
func ValidSettingKey(key string) bool {
	if key == "" || len(key) > maxSettingKey || key[0] < 'a' || key[0] > 'z' {
		return false
	}
	return ValidOutcome(key)
}

func checkSettingKey(field, key string) error {
	if key == "" {
		return &ValidationError{Field: field, Problem: "is required"}
	}
	if !ValidSettingKey(key) {
		return &ValidationError{Field: field, Problem: fmt.Sprintf(
			"%q must start with a lower-case letter and hold only lower-case letters, digits and underscores (at most %d)", key, maxSettingKey)}
	}
	return nil
}

func checkSettingText(field, s string, max int, required bool) error {
	switch {
	case required && s == "":
		return &ValidationError{Field: field, Problem: "is required"}
	case utf8.RuneCountInString(s) > max:
		return &ValidationError{Field: field, Problem: fmt.Sprintf("must be at most %d characters", max)}
	case strings.ContainsAny(s, "\r\n"):
		return &ValidationError{Field: field, Problem: "must be one line"}
	}
	return nil
}

// FieldValue is a report's value of one field, with the label it shows
// under.
type FieldValue struct {
	Key, Label, Value string
	// Removed marks a key the organisation's list no longer has: it shows
	// under its key.
	Removed bool
}

// FieldValues lists a report's values in the order of the organisation's
// fields, empty ones included, then those of keys its list no longer has,
// by key.
func (h HistorySettings) FieldValues(values map[string]string) []FieldValue {
	out := make([]FieldValue, 0, len(h.ReportFields)+len(values))
	for _, f := range h.ReportFields {
		out = append(out, FieldValue{Key: f.Key, Label: f.Label, Value: values[f.Key]})
	}
	var gone []string
	for k := range values {
		if _, ok := h.ReportField(k); !ok {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		out = append(out, FieldValue{Key: k, Label: k, Value: values[k], Removed: true})
	}
	return out
}
