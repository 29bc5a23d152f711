package web

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// The organisation's history settings: the outcomes a session can be given
// and the structured fields of a service report, which administrators of
// labels edit on one page and over the API.

// HistorySettingsAdmin replaces the organisation's history settings (the
// reads go through OrgReader).
type HistorySettingsAdmin interface {
	PutHistorySettings(ctx context.Context, a Actor, h storage.HistorySettings) (storage.HistorySettings, error)
}

// historySettingsPath is the API's path of the settings.
const historySettingsPath = APIPrefix + "/organisation/history-settings"

func (s *Server) historySettingsRoutes() []route {
	return []route{
		{method: "GET", path: historySettingsPath, perm: policy.CallLogs,
			summary: "The organisation's session outcomes and service-report fields, each list in order",
			out:     storage.HistorySettings{}, handler: s.apiHistorySettings},
		{method: "PUT", path: historySettingsPath, perm: policy.AdminLabels,
			summary: "Replace the organisation's session outcomes and service-report fields; sessions and reports keep the keys they were given",
			in:      historySettingsIn{}, out: storage.HistorySettings{}, handler: s.apiPutHistorySettings},
		{method: "GET", path: "/history-settings", perm: policy.AdminLabels, page: true, summary: "Outcomes and report fields", handler: s.uiHistorySettings},
		{method: "POST", path: "/history-settings", perm: policy.AdminLabels, page: true, summary: "Save the outcomes and report fields", handler: s.uiSaveHistorySettings},
	}
}

// historySettingsIn is what PUT takes: both lists, whole.
type historySettingsIn struct {
	Outcomes     []storage.OutcomeDef     `json:"outcomes"`
	ReportFields []storage.ReportFieldDef `json:"report_fields"`
}

func (s *Server) apiHistorySettings(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	h, err := s.deps.Org.HistorySettings(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	return c.JSON(h)
}

func (s *Server) apiPutHistorySettings(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	var in historySettingsIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Outcomes == nil {
		return invalid("outcomes", "is required: the whole list of outcomes")
	}
	h, err := s.deps.Settings.PutHistorySettings(c.UserContext(), a,
		storage.HistorySettings{OrgID: a.OrgID, Outcomes: in.Outcomes, ReportFields: in.ReportFields})
	if err != nil {
		return err
	}
	return c.JSON(h)
}

// ---- the page ----------------------------------------------------------

// blankRows are the empty rows the page offers for new entries.
const blankRows = 3

type historySettingsData struct {
	Outcomes []outcomeRow
	Fields   []fieldRow
	Kinds    []string
	// MaxOutcomes and MaxFields are the limits of the lists.
	MaxOutcomes, MaxFields int
}

// outcomeRow and fieldRow are one row of the page's form; Bad names the
// input an error is about.
type outcomeRow struct {
	Pos       int
	Key, Name string
	Solved    bool
	Bad       string
}

type fieldRow struct {
	Pos                    int
	Key, Label, Kind, Hint string
	Required               bool
	Bad                    string
}

func (s *Server) uiHistorySettings(c *fiber.Ctx) error {
	return s.showHistorySettings(c, fiber.StatusOK, &formState{}, nil)
}

func (s *Server) showHistorySettings(c *fiber.Ctx, status int, f *formState, rows *historySettingsData) error {
	a, _ := actorOf(c)
	if rows == nil {
		h, err := s.deps.Org.HistorySettings(c.UserContext(), a.OrgID)
		if err != nil {
			return err
		}
		rows = &historySettingsData{}
		for i, o := range h.Outcomes {
			rows.Outcomes = append(rows.Outcomes, outcomeRow{Pos: i + 1, Key: o.Key, Name: o.Name, Solved: o.Solved})
		}
		for i, fd := range h.ReportFields {
			rows.Fields = append(rows.Fields, fieldRow{Pos: i + 1, Key: fd.Key, Label: fd.Label, Kind: fd.Kind, Hint: fd.Hint, Required: fd.Required})
		}
		for range blankRows {
			rows.Outcomes = append(rows.Outcomes, outcomeRow{Pos: len(rows.Outcomes) + 1})
			rows.Fields = append(rows.Fields, fieldRow{Pos: len(rows.Fields) + 1, Kind: storage.FieldText})
		}
	}
	rows.Kinds = []string{storage.FieldText, storage.FieldLongText}
	rows.MaxOutcomes, rows.MaxFields = storage.MaxOutcomes, storage.MaxReportFields
	v := s.view(c, "Outcomes and report fields", "history-settings")
	v.Form = f
	v.Data = rows
	return s.ui.render(c, status, "history_settings", v)
}

// uiSaveHistorySettings reads the page's rows: blank ones are left out,
// the others are ordered by their position, then as listed.
func (s *Server) uiSaveHistorySettings(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	f := readForm(c, "history", "outcome_pos", "outcome_key", "outcome_name", "outcome_solved",
		"field_pos", "field_key", "field_label", "field_kind", "field_hint", "field_required")
	rows := &historySettingsData{}
	at := func(key string, i int) string {
		if vs := f.All(key); i < len(vs) {
			return vs[i]
		}
		return ""
	}
	for i := range f.All("outcome_key") {
		pos, _ := strconv.Atoi(at("outcome_pos", i))
		rows.Outcomes = append(rows.Outcomes, outcomeRow{Pos: pos, Key: at("outcome_key", i), Name: at("outcome_name", i),
			Solved: slices.Contains(f.All("outcome_solved"), strconv.Itoa(i))})
	}
	for i := range f.All("field_key") {
		pos, _ := strconv.Atoi(at("field_pos", i))
		rows.Fields = append(rows.Fields, fieldRow{Pos: pos, Key: at("field_key", i), Label: at("field_label", i),
			Kind: at("field_kind", i), Hint: at("field_hint", i), Required: slices.Contains(f.All("field_required"), strconv.Itoa(i))})
	}
	// Each kept row's index in the rows, to point an error at its row.
	h := storage.HistorySettings{OrgID: a.OrgID, Outcomes: []storage.OutcomeDef{}, ReportFields: []storage.ReportFieldDef{}}
	outcomeRows, fieldRows := ordered(len(rows.Outcomes), func(i int) (int, bool) {
		return rows.Outcomes[i].Pos, rows.Outcomes[i].Key == "" && rows.Outcomes[i].Name == ""
	}), ordered(len(rows.Fields), func(i int) (int, bool) {
		r := rows.Fields[i]
		return r.Pos, r.Key == "" && r.Label == "" && r.Hint == ""
	})
	for _, i := range outcomeRows {
		r := rows.Outcomes[i]
		h.Outcomes = append(h.Outcomes, storage.OutcomeDef{Key: r.Key, Name: r.Name, Solved: r.Solved})
	}
	for _, i := range fieldRows {
		r := rows.Fields[i]
		h.ReportFields = append(h.ReportFields, storage.ReportFieldDef{Key: r.Key, Label: r.Label, Kind: r.Kind, Hint: r.Hint, Required: r.Required})
	}
	if _, err := s.deps.Settings.PutHistorySettings(c.UserContext(), a, h); err != nil {
		err = onRow(err, rows, outcomeRows, fieldRows)
		return failed(c, f, err, func(c *fiber.Ctx, status int, f *formState) error {
			return s.showHistorySettings(c, status, f, rows)
		})
	}
	return done(c, "/history-settings", "Saved the outcomes and report fields.")
}

// ordered returns the indexes of the n rows that are not blank, ordered by
// their position (a row without one goes last), then as listed.
func ordered(n int, row func(i int) (pos int, blank bool)) []int {
	var out []int
	for i := range n {
		if _, blank := row(i); !blank {
			out = append(out, i)
		}
	}
	slices.SortStableFunc(out, func(x, y int) int {
		px, _ := row(x)
		py, _ := row(y)
		if px <= 0 {
			px = n + 1
		}
		if py <= 0 {
			py = n + 1
		}
		return px - py
	})
	return out
}

// settingsField is a field of the settings as a validation error names it.
var settingsField = regexp.MustCompile(`^(outcomes|report_fields)\[(\d+)\]\.(\w+)$`)

// onRow rewrites a validation error about entry i of a list as one about
// the page's row that holds it, and marks the row's input.
func onRow(err error, rows *historySettingsData, outcomeRows, fieldRows []int) error {
	var ve *storage.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	m := settingsField.FindStringSubmatch(ve.Field)
	if m == nil {
		return err
	}
	i, _ := strconv.Atoi(m[2])
	switch {
	case m[1] == "outcomes" && i < len(outcomeRows):
		row := outcomeRows[i]
		rows.Outcomes[row].Bad = m[3]
		return invalid(fmt.Sprintf("outcome %d: %s", row+1, m[3]), ve.Problem)
	case m[1] == "report_fields" && i < len(fieldRows):
		row := fieldRows[i]
		rows.Fields[row].Bad = m[3]
		return invalid(fmt.Sprintf("report field %d: %s", row+1, m[3]), ve.Problem)
	}
	return err
}
