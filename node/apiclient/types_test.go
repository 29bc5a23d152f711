package apiclient

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

// TestTypesMatchTheAPI holds the client's types to the JSON the API
// speaks: same names, same options, same kinds of values, nested too.
func TestTypesMatchTheAPI(t *testing.T) {
	pairs := []struct{ ours, api any }{
		{User{}, storage.User{}},
		{UserInput{}, web.UserInput{}},
		{UserPatch{}, web.UserPatch{}},
		{PolicyRule{}, storage.PolicyRule{}},
		{PolicyVersion{}, storage.PolicyVersion{}},
		{GrantInput{}, web.GrantInput{}},
		{RoleInput{}, web.RoleInput{}},
		{AssignInput{}, web.AssignInput{}},
		{ImportInput{}, web.ImportInput{}},
		{PolicyResult{}, web.PolicyResult{}},
		{CheckResult{}, web.CheckResult{}},
		{RoleInfo{}, web.RoleInfo{}},
		{ClusterStatus{}, web.ClusterStatus{}},
		{JoinToken{}, web.JoinToken{}},
		{APIError{}, web.ErrorBody{}},
	}
	for _, p := range pairs {
		ours, api := reflect.TypeOf(p.ours), reflect.TypeOf(p.api)
		if got, want := jsonShape(ours), jsonShape(api); got != want {
			t.Errorf("%s's JSON differs from %s's:\n got %s\nwant %s", ours, api, got, want)
		}
	}
}

func TestJSONShapeTellsTypesApart(t *testing.T) {
	type a struct {
		X string `json:"x"`
	}
	type b struct {
		X int `json:"x"`
	}
	type c struct {
		X string `json:"x,omitempty"`
	}
	type d struct {
		a
		Y string `json:"-"`
	}
	ta, tb, tc, td := reflect.TypeOf(a{}), reflect.TypeOf(b{}), reflect.TypeOf(c{}), reflect.TypeOf(d{})
	if jsonShape(ta) == jsonShape(tb) || jsonShape(ta) == jsonShape(tc) {
		t.Errorf("shapes of different JSON agree: %s, %s, %s", jsonShape(ta), jsonShape(tb), jsonShape(tc))
	}
	if jsonShape(ta) != jsonShape(td) {
		t.Errorf("an embedded struct and a skipped field change the shape: %s vs %s", jsonShape(ta), jsonShape(td))
	}
}

var timeType = reflect.TypeOf(time.Time{})

// jsonShape describes the JSON encoding/json makes of values of t.
func jsonShape(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + jsonShape(t.Elem())
	case reflect.Slice:
		return "[]" + jsonShape(t.Elem())
	case reflect.Map:
		return "map[" + jsonShape(t.Key()) + "]" + jsonShape(t.Elem())
	case reflect.Struct:
		if t == timeType {
			return "time"
		}
		fields := structFields(t)
		slices.Sort(fields)
		return "{" + strings.Join(fields, " ") + "}"
	default:
		return t.Kind().String()
	}
}

func structFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		tag, ok := f.Tag.Lookup("json")
		if tag == "-" {
			continue
		}
		if f.Anonymous && !ok && f.Type.Kind() == reflect.Struct {
			out = append(out, structFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, name+","+opts+":"+jsonShape(f.Type))
	}
	return out
}
