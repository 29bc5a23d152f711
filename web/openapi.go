package web

import (
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// openAPI builds the OpenAPI 3.1 document from the route table, so the
// document cannot drift from what the server serves. Each operation names
// the permission it needs in x-permission.
func (s *Server) openAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, r := range s.routes {
		if r.page {
			continue
		}
		path := apiParam.ReplaceAllString(r.path, "{$1}")
		op := map[string]any{
			"summary":     r.summary,
			"operationId": strings.ToLower(r.method) + strings.ReplaceAll(strings.ReplaceAll(strings.TrimPrefix(path, APIPrefix), "/", "_"), "{", ""),
			"responses":   responses(r),
		}
		op["operationId"] = strings.NewReplacer("}", "", "-", "_", ".", "_").Replace(op["operationId"].(string))
		switch {
		case r.public:
			op["security"] = []any{}
		case r.perm != "":
			op["x-permission"] = r.perm
		}
		var ps []any
		for _, m := range apiParam.FindAllStringSubmatch(r.path, -1) {
			ps = append(ps, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if linearizable(r) {
			ps = append(ps, map[string]any{
				"name": ReadHeader, "in": "header", "required": false,
				"schema":      map[string]any{"type": "string", "enum": []string{ReadLocal, ReadLinearizable}, "default": ReadLocal},
				"description": "linearizable: answer only once this node's copy of the organisation data holds every change committed before the request (503 federation_unreachable when the leader cannot vouch for it); local: answer from this node's copy, which may lag",
			})
		}
		if len(ps) > 0 {
			op["parameters"] = ps
		}
		if r.in != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(r.in))}},
			}
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Siteline API",
			"version":     s.deps.Version,
			"description": "Every operation but the public ones needs a session cookie (with the X-CSRF-Token header on changes) or an API token. A denied call answers 403 with the missing permission named in the body.",
		},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"token":   map[string]any{"type": "http", "scheme": "bearer"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie},
			},
			"schemas": map[string]any{"Error": schemaOf(reflect.TypeOf(ErrorBody{}))},
		},
		"security": []any{map[string]any{"token": []any{}}, map[string]any{"session": []any{}}},
	}
}

var apiParam = regexp.MustCompile(`:([a-z_]+)`)

func responses(r route) map[string]any {
	errRef := map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	with := func(desc string) map[string]any {
		m := map[string]any{"description": desc}
		for k, v := range errRef {
			m[k] = v
		}
		return m
	}
	ok := map[string]any{"description": "success"}
	if r.out != nil {
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(r.out))}}
	}
	out := map[string]any{"2XX": ok, "400": with("malformed request; the message names the field")}
	if !r.public {
		out["401"] = with("not logged in")
		out["403"] = with("the permission named in the body is missing")
	}
	switch {
	case r.method != "GET":
		out["503"] = with("federation_unreachable: the change cannot be committed from this node now and was not made; outcome_unknown: the change was sent but no answer came back, so it may still be applied (check before retrying)")
	case linearizable(r):
		out["503"] = with("federation_unreachable: the read asked for " + ReadHeader + ": " + ReadLinearizable + " and the leader cannot vouch for this node's copy now")
	}
	return out
}

var timeType = reflect.TypeOf(time.Time{})

// schemaOf describes a Go type as JSON Schema, following its json tags.
func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		addFields(t, props)
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			addFields(ft, props)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaOf(f.Type)
	}
}

func (s *Server) apiOpenAPI(c *fiber.Ctx) error {
	return c.JSON(s.openAPI())
}
