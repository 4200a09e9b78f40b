package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"lockbox.dev/shared/lockbox"
)

// tokenStrict is decodeStrict as it was, over encoding/json's tokens: the
// oracle that the byte-level check must agree with.
func tokenStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := tokenCheck(dec, reflect.TypeOf(v).Elem(), ""); err != nil {
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

// tokenCheck is the check decodeStrict made before it read the bytes
// itself: it reads one JSON value from dec and checks the keys of any object
// in it against t. Values of types that are not structs are only skipped.
func tokenCheck(dec *json.Decoder, t reflect.Type, path string) error {
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
			return tokenSkip(dec) // a type error, reported by the full decode
		}
		fields := tokenFields(t)
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
			if err := tokenCheck(dec, ft, path+key+"."); err != nil {
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
			if err := tokenCheck(dec, elem, path); err != nil {
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

// tokenSkip consumes the rest of an object or array whose opening delimiter
// was read.
func tokenSkip(dec *json.Decoder) error {
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

// tokenFields maps the JSON names of t's exported fields to their types
// (the same fields the byte-level check knows).
func tokenFields(t reflect.Type) map[string]reflect.Type {
	f := fieldsOf(t)
	m := make(map[string]reflect.Type, len(f.names))
	for i, name := range f.names {
		m[name] = f.types[i]
	}
	return m
}

// agree fails unless decodeStrict and the token walk accept the same bodies
// and decode them alike, and, for valid JSON, refuse with the same message.
// (For text that is not JSON both refuse; the byte-level check may name the
// syntax where the token walk named an earlier key, or the reverse.)
func agree[T any](t *testing.T, body []byte) {
	t.Helper()
	if !utf8.Valid(body) {
		return // Decode refuses it before either check
	}
	var got, want T
	errGot, errWant := decodeStrict(body, &got), tokenStrict(body, &want)
	if (errGot == nil) != (errWant == nil) {
		t.Fatalf("%T %q: byte check says %v, token walk %v", got, body, errGot, errWant)
	}
	if errGot == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%T %q: decoded %+v, token walk %+v", got, body, got, want)
	}
	if errGot != nil && json.Valid(body) && errGot.Error() != errWant.Error() {
		t.Fatalf("%T %q: byte check says %q, token walk %q", got, body, errGot, errWant)
	}
}

var strictSeeds = []string{
	`{"tenantId":"contoso","resourceType":"vm","resourceIds":["vm-1"],"justification":"why","supportRequest":"INC-1","requester":{"id":"eng-7"}}`,
	`{"tenantId":"a","tenantId":"b"}`, `{"TenantId":"a"}`, `{"requester":{"id":{"id":1}}}`, `[]`, `null`, `{"duration":1e309}`,
	`{"resourceIds":["a","b"]}{}`, `{"requestId":"x","reason":"ok","duration":"2"}`, `{"reason":"ok","reason":"no"}`, `{}`, `""`,
	` { "requester" : { "id" : "e", "bogus" : [ 1 , { } ] } } `, `{"requester":{"displayName":"a","displayName":"b"}}`,
	`{"\u0072eason":"escaped key"}`, `{"reason\u0000":"x"}`, `{"reason":"a\"b","requestId":"\u00e9"}`,
	`{"rules":[{"name":"r","match":{"bogus":1}}]}`, `{"rules":[{"name":"r"},{"name":"s","name":"t"}]}`,
	`{"approvers":[{"id":"a","email":"a@b.example"}],"webhooks":[{"id":"w","url":"https://x.example","events":["created"]}]}`,
	`{"requester":[{"x":1}]}`, `{"requester":"eng"}`, `{"reminders":[1,[2],{"a":3}]}`, `{"a":}`, `{"reason":"x",}`, `{,}`, `{"reason" "x"}`,
	`{"reason":"x"} x`, `{"reason":"x"}` + "\n", `{"reason":tru}`, `{"reason":01}`, `{"duration":-}`, `{"reason":"\x"}`, `{"reason`,
	`{"requester":{}}`, `[1,2`, `{"requestId":"x"` + strings.Repeat(" ", 3), "{\"reason\":\"a\tb\"}", `nul`, `{"escalation":{"after":"1h","contacts":[{"email":"x"}]}}`,
}

// TestStrictMatchesTokenWalk holds the byte-level check to the token walk it
// replaced, on the cases each rule is about.
func TestStrictMatchesTokenWalk(t *testing.T) {
	for _, s := range strictSeeds {
		agree[lockbox.CreateInput](t, []byte(s))
		agree[lockbox.DecisionInput](t, []byte(s))
		agree[lockbox.Settings](t, []byte(s))
	}
}

// FuzzStrictMatchesTokenWalk does the same for any body.
func FuzzStrictMatchesTokenWalk(f *testing.F) {
	for _, s := range strictSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		agree[lockbox.CreateInput](t, body)
		agree[lockbox.DecisionInput](t, body)
		agree[lockbox.Settings](t, body)
	})
}

// BenchmarkStrict is decodeStrict beside the token walk it replaced, on a
// lockbox-create body.
func BenchmarkStrict(b *testing.B) {
	body := []byte(strictSeeds[0])
	for _, c := range []struct {
		name   string
		decode func([]byte, any) error
	}{{"bytes", decodeStrict}, {"tokens", tokenStrict}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var in lockbox.CreateInput
				if err := c.decode(body, &in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
