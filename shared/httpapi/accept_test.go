package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
)

// acceptor is what a function does with a body before it acts on it: decode
// it and validate it. It returns the value acted on, or the refusal.
type acceptor[T any] func(body []byte) (T, error)

// decodeAndValidate is the acceptor of the functions: httpapi.Decode, then
// the domain's validate.
func decodeAndValidate[T any](validate func(T) error) acceptor[T] {
	return func(body []byte) (T, error) {
		var v T
		if err := httpapi.Decode(jsonRequest(body), &v); err != nil {
			return v, err
		}
		return v, validate(v)
	}
}

// checkAccepted runs body through accept. A refusal must be a 4xx domain
// error. What is accepted must
//   - re-validate: valid (the domain's Validate) passes it;
//   - round-trip: encoded and accepted again, it is equal and still valid;
//   - say what the body said: the body and the value's encoding hold the
//     same keys with the same values, but for keys one side leaves out whose
//     value on the other side is empty (null, "", 0, false, [] or {}: what
//     omitempty drops or a decoder leaves at its zero value).
//
// It reports with t.Errorf only, so that a recorder can run it against a
// planted defect.
func checkAccepted[T any](t testing.TB, body []byte, accept acceptor[T], valid func(T) error) {
	t.Helper()
	v, err := accept(body)
	if err != nil {
		var le *lockbox.Error
		if !errors.As(err, &le) || httpapi.Status(le.Kind) >= 500 {
			t.Errorf("untrusted input must be refused with a 4xx, got %v\nbody: %q", err, body)
		}
		return
	}
	if err := valid(v); err != nil {
		t.Errorf("accepted what the domain refuses (%v)\nbody: %q", err, body)
		return
	}
	enc, err := json.Marshal(v)
	if err != nil {
		t.Errorf("cannot encode what was accepted: %v\nbody: %q", err, body)
		return
	}
	again, err := accept(enc)
	switch {
	case err != nil:
		t.Errorf("what was accepted is refused when sent again (%v)\nbody: %q\nagain: %s", err, body, enc)
		return
	case !sameValue(reflect.ValueOf(v), reflect.ValueOf(again)):
		t.Errorf("what was accepted changes in a round trip\nbody: %q\nfirst: %+v\nagain: %+v", body, v, again)
		return
	case valid(again) != nil:
		t.Errorf("what was accepted is invalid after a round trip (%v)\nbody: %q", valid(again), body)
		return
	}
	var sent, held any
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Errorf("accepted a body that is not JSON (%v)\nbody: %q", err, body)
		return
	}
	if err := json.Unmarshal(enc, &held); err != nil {
		t.Errorf("the encoding of what was accepted is not JSON (%v): %s", err, enc)
		return
	}
	if where := differ(sent, held, "body"); where != "" {
		t.Errorf("what was accepted does not say what the body said, at %s\nbody: %q\nheld: %s", where, body, enc)
	}
}

// sameValue reports whether a and b are deeply equal, instants compared as
// instants with their offset (a time's Location pointer depends on how it
// was parsed).
func sameValue(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == reflect.TypeFor[time.Time]() {
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		_, oa := ta.Zone()
		_, ob := tb.Zone()
		return ta.Equal(tb) && oa == ob
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			// An omitempty list encodes nil and empty alike, so no round trip
			// can tell them apart; the domain reads both as "not given".
			if f := a.Type().Field(i); f.Type.Kind() == reflect.Slice && strings.Contains(f.Tag.Get("json"), ",omitempty") &&
				a.Field(i).Len() == 0 && b.Field(i).Len() == 0 {
				continue
			}
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	default:
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
}

// differ returns where two decoded JSON values differ ("" if nowhere), a
// key absent on one side matching an empty value on the other, and two
// spellings of one time (RFC 3339) matching.
func differ(sent, held any, at string) string {
	switch s := sent.(type) {
	case map[string]any:
		h, ok := held.(map[string]any)
		if !ok {
			return at
		}
		for k, sv := range s {
			hv, ok := h[k]
			if !ok && !empty(sv) || ok && differ(sv, hv, at+"."+k) != "" {
				return at + "." + k
			}
		}
		for k, hv := range h {
			if _, ok := s[k]; !ok && !empty(hv) {
				return at + "." + k
			}
		}
		return ""
	case []any:
		h, ok := held.([]any)
		if !ok || len(h) != len(s) {
			return at
		}
		for i := range s {
			if where := differ(s[i], h[i], fmt.Sprintf("%s[%d]", at, i)); where != "" {
				return where
			}
		}
		return ""
	case string:
		h, ok := held.(string)
		if !ok || h != s && !sameInstant(s, h) {
			return at
		}
		return ""
	default:
		if sent != held {
			return at
		}
		return ""
	}
}

// sameInstant reports whether a and b are RFC 3339 times of the same
// instant and offset: encoding a time.Time spells it in one way of many.
func sameInstant(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	_, oa := ta.Zone()
	_, ob := tb.Zone()
	return errA == nil && errB == nil && ta.Equal(tb) && oa == ob
}

// empty reports whether a decoded JSON value is one that a key left out
// stands for.
func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case float64:
		return v == 0
	case bool:
		return !v
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// lenient decodes as encoding/json does by default: keys matched
// case-insensitively, unknown fields ignored, duplicates overriding.
func lenient[T any](validate func(T) error, edit func(*T)) acceptor[T] {
	return func(body []byte) (T, error) {
		var v T
		if err := json.Unmarshal(body, &v); err != nil {
			return v, lockbox.Invalidf("body is not valid JSON")
		}
		if edit != nil {
			edit(&v)
		}
		return v, validate(v)
	}
}

// strictThen decodes as httpapi.Decode does, edits the value, then
// validates it.
func strictThen[T any](validate func(T) error, edit func(*T)) acceptor[T] {
	return func(body []byte) (T, error) {
		var v T
		if err := httpapi.Decode(jsonRequest(body), &v); err != nil {
			return v, err
		}
		edit(&v)
		return v, validate(v)
	}
}

func approveValid(in lockbox.DecisionInput) error { return in.Validate(true) }
func denyValid(in lockbox.DecisionInput) error    { return in.Validate(false) }

// checkAccepted catches each planted defect of an acceptor, on a body that
// shows it, and the functions' own acceptor passes the same body.
func TestCheckAcceptedCatchesPlantedDefects(t *testing.T) {
	const decision = `{"requestId":"0b6f1c2e-9d7a-4c3b","reason":"ok"`
	const create = `{"tenantId":"contoso","resourceType":"vm","resourceIds":["vm-1"],"justification":"why","supportRequest":"INC-1","requester":{"id":"eng-7"}`
	createValid := lockbox.CreateInput.Validate
	cases := []struct {
		name  string
		body  string
		check func(t testing.TB, body []byte, planted bool)
	}{
		{"deny validated as approve: accepts a duration the domain refuses", decision + `,"duration":8}`,
			func(t testing.TB, body []byte, planted bool) {
				accept := decodeAndValidate(denyValid)
				if planted {
					accept = decodeAndValidate(approveValid)
				}
				checkAccepted(t, body, accept, denyValid)
			}},
		{"validation skipped: accepts an empty create", `{"tenantId":"contoso"}`,
			func(t testing.TB, body []byte, planted bool) {
				accept := decodeAndValidate(createValid)
				if planted {
					accept = decodeAndValidate(func(lockbox.CreateInput) error { return nil })
				}
				checkAccepted(t, body, accept, createValid)
			}},
		{"unknown field accepted", decision + `,"approved":true}`,
			func(t testing.TB, body []byte, planted bool) {
				accept := decodeAndValidate(approveValid)
				if planted {
					accept = lenient(approveValid, nil)
				}
				checkAccepted(t, body, accept, approveValid)
			}},
		{"key matched case-insensitively", `{"RequestId":"0b6f1c2e-9d7a-4c3b","reason":"ok"}`,
			func(t testing.TB, body []byte, planted bool) {
				accept := decodeAndValidate(approveValid)
				if planted {
					accept = lenient(approveValid, nil)
				}
				checkAccepted(t, body, accept, approveValid)
			}},
		{"refused duration dropped rather than refused", create + `,"duration":9000}`,
			func(t testing.TB, body []byte, planted bool) {
				accept := decodeAndValidate(createValid)
				if planted {
					accept = strictThen(createValid, func(in *lockbox.CreateInput) {
						if in.Duration != nil && *in.Duration > lockbox.MaxDurationHours {
							in.Duration = nil
						}
					})
				}
				checkAccepted(t, body, accept, createValid)
			}},
		{"value rewritten", `{"requestId":"0b6f1c2e-9d7a-4c3b","reason":" ok "}`,
			func(t testing.TB, body []byte, planted bool) {
				accept := decodeAndValidate(approveValid)
				if planted {
					accept = strictThen(approveValid, func(in *lockbox.DecisionInput) { in.Reason = strings.TrimSpace(in.Reason) })
				}
				checkAccepted(t, body, accept, approveValid)
			}},
		{"absent duration defaulted but null kept: no round trip", decision + `,"duration":null}`,
			func(t testing.TB, body []byte, planted bool) {
				accept := decodeAndValidate(approveValid)
				if planted {
					accept = func(body []byte) (lockbox.DecisionInput, error) {
						var in lockbox.DecisionInput
						if err := httpapi.Decode(jsonRequest(body), &in); err != nil {
							return in, err
						}
						if !strings.Contains(string(body), `"duration"`) {
							eight := 8
							in.Duration = &eight
						}
						return in, in.Validate(true)
					}
				}
				checkAccepted(t, body, accept, approveValid)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, []byte(c.body), false)
			r := &recorder{TB: t}
			c.check(r, []byte(c.body), true)
			if len(r.failures) == 0 {
				t.Fatalf("the planted defect went unnoticed on %s", c.body)
			}
			t.Log(r.failures[0])
		})
	}
}
