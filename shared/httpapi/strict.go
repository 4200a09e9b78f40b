package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"lockbox.dev/shared/lockbox"
)

// decodeStrict decodes data into v after checking, in one pass over the
// tokens, that every object key names a field of the target type exactly and
// appears once. encoding/json alone matches keys case-insensitively and lets
// a later duplicate override an earlier one; either would let two readers of
// the same body see different requests.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := checkValue(dec, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return lockbox.Invalidf("body must be a single JSON object")
	}
	full := json.NewDecoder(bytes.NewReader(data))
	full.DisallowUnknownFields()
	if err := full.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return lockbox.Invalidf("field %s must be of JSON type %s", te.Field, jsonKind(te.Type))
		}
		return lockbox.Invalidf("body is not valid JSON")
	}
	return nil
}

func syntaxErr() error { return lockbox.Invalidf("body is not valid JSON") }

// checkValue reads one JSON value from dec and checks the keys of any object
// in it against t. Values of types that are not structs are only skipped.
func checkValue(dec *json.Decoder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr()
	}
	delim, isDelim := tok.(json.Delim)
	if !isDelim {
		if path == "" {
			return lockbox.Invalidf("body must be a JSON object")
		}
		return nil
	}
	switch delim {
	case '{':
		if t.Kind() != reflect.Struct {
			if path == "" {
				return lockbox.Invalidf("body must be a JSON object")
			}
			return skipRest(dec) // a type error, reported by the full decode
		}
		fields := jsonFields(t)
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return syntaxErr()
			}
			key, _ := tok.(string)
			ft, ok := fields[key]
			if !ok {
				return lockbox.Invalidf("unknown field %q", path+key)
			}
			if seen[key] {
				return lockbox.Invalidf("field %q appears more than once", path+key)
			}
			seen[key] = true
			if err := checkValue(dec, ft, path+key+"."); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return syntaxErr()
		}
	case '[':
		if path == "" {
			return lockbox.Invalidf("body must be a JSON object")
		}
		elem := reflect.TypeOf("")
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			elem = t.Elem()
		}
		for dec.More() {
			if err := checkValue(dec, elem, path); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return syntaxErr()
		}
	default:
		return syntaxErr()
	}
	return nil
}

// skipRest consumes the rest of an object or array whose opening delimiter
// was read.
func skipRest(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return syntaxErr()
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// jsonFields maps the JSON names of t's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "integer"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Bool:
		return "boolean"
	}
	return fmt.Sprint(t.Kind())
}
