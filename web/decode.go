package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// decodeJSON decodes the request body into v strictly: JSON content type,
// one object, no unknown fields, every field of the right type. The error
// names what is wrong.
func decodeJSON(c *fiber.Ctx, v any) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	if ct != fiber.MIMEApplicationJSON {
		return &storage.ValidationError{Field: "Content-Type", Problem: fmt.Sprintf("must be application/json, not %q", ct)}
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return &storage.ValidationError{Field: "body", Problem: "is empty: a JSON object is expected"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &storage.ValidationError{Field: "body", Problem: "has data after the JSON object"}
	}
	return nil
}

func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return &storage.ValidationError{Field: "body", Problem: fmt.Sprintf("is not valid JSON at byte %d: %v", syn.Offset, syn)}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return &storage.ValidationError{Field: field, Problem: fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &storage.ValidationError{Field: "body", Problem: "is truncated JSON"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &storage.ValidationError{Field: strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), Problem: "is not a known field"}
	}
	return &storage.ValidationError{Field: "body", Problem: err.Error()}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return k
}
