package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"lockbox.dev/shared/lockbox"
)

// decodeStrict decodes data into v after checking, in one pass over the
// bytes, that data is one JSON object and that every object key names a
// field of the target type exactly and appears once. encoding/json alone
// matches keys case-insensitively and lets a later duplicate override an
// earlier one; either would let two readers of the same body see different
// requests.
//
// The check reads the bytes itself rather than encoding/json's tokens: a
// token walk allocated for every token and cost a fifth of lockbox-create's
// CPU. The decode that follows still checks the JSON's syntax in full.
func decodeStrict(data []byte, v any) error {
	c := checker{data: data}
	if err := c.value(reflect.TypeOf(v).Elem(), true); err != nil {
		return err
	}
	if c.skipSpace(); c.i < len(c.data) {
		return lockbox.Invalidf("body must be a single JSON object")
	}
	full := json.NewDecoder(bytes.NewReader(data))
	full.DisallowUnknownFields()
	if err := full.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return lockbox.Invalidf("field %s must be of JSON type %s", te.Field, jsonKind(te.Type))
		}
		return syntaxErr()
	}
	return nil
}

func syntaxErr() error { return lockbox.Invalidf("body is not valid JSON") }

// checker walks one JSON text. path holds the keys from the top object to
// the value being read, for the error that names a field.
type checker struct {
	data []byte
	i    int
	path []string
}

func (c *checker) skipSpace() {
	for c.i < len(c.data) {
		switch c.data[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// field names the key being read in an error, with the keys around it.
func (c *checker) field(key string) string { return strings.Join(append(c.path, key), ".") }

// value reads one JSON value and checks the keys of any object in it
// against t. Values of types that are not structs are only skipped (a type
// error is reported by the decode).
func (c *checker) value(t reflect.Type, top bool) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if c.skipSpace(); c.i == len(c.data) {
		return syntaxErr()
	}
	switch c.data[c.i] {
	case '{':
		if t.Kind() != reflect.Struct {
			if top {
				return lockbox.Invalidf("body must be a JSON object")
			}
			return c.skip()
		}
		return c.object(fieldsOf(t))
	case '[':
		if top {
			return lockbox.Invalidf("body must be a JSON object")
		}
		elem := reflect.TypeFor[string]()
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			elem = t.Elem()
		}
		c.i++
		if c.skipSpace(); c.i < len(c.data) && c.data[c.i] == ']' {
			c.i++
			return nil
		}
		for {
			if err := c.value(elem, false); err != nil {
				return err
			}
			if c.skipSpace(); c.i == len(c.data) {
				return syntaxErr()
			}
			c.i++
			switch c.data[c.i-1] {
			case ']':
				return nil
			case ',':
			default:
				return syntaxErr()
			}
		}
	}
	if top {
		if c.skip() != nil {
			return syntaxErr()
		}
		return lockbox.Invalidf("body must be a JSON object")
	}
	return c.skip()
}

// object reads an object whose keys must be fields of f, each at most once.
func (c *checker) object(f *fields) error {
	c.i++
	var small [64]bool
	seen := small[:]
	if len(f.types) > len(small) {
		seen = make([]bool, len(f.types))
	}
	c.skipSpace()
	if c.i < len(c.data) && c.data[c.i] == '}' {
		c.i++
		return nil
	}
	for {
		if c.skipSpace(); c.i == len(c.data) || c.data[c.i] != '"' {
			return syntaxErr()
		}
		start := c.i
		escaped, err := c.str()
		if err != nil {
			return err
		}
		raw := c.data[start+1 : c.i-1]
		n, ok := f.index[string(raw)]
		if escaped {
			var key string
			if json.Unmarshal(c.data[start:c.i], &key) != nil {
				return syntaxErr()
			}
			raw = []byte(key)
			n, ok = f.index[key]
		}
		if !ok {
			return lockbox.Invalidf("unknown field %q", c.field(string(raw)))
		}
		if seen[n] {
			return lockbox.Invalidf("field %q appears more than once", c.field(string(raw)))
		}
		seen[n] = true
		if c.skipSpace(); c.i == len(c.data) || c.data[c.i] != ':' {
			return syntaxErr()
		}
		c.i++
		c.path = append(c.path, f.names[n])
		if err := c.value(f.types[n], false); err != nil {
			return err
		}
		c.path = c.path[:len(c.path)-1]
		if c.skipSpace(); c.i == len(c.data) {
			return syntaxErr()
		}
		c.i++
		switch c.data[c.i-1] {
		case '}':
			return nil
		case ',':
		default:
			return syntaxErr()
		}
	}
}

// str reads a string literal, the index at its opening quote, and says
// whether it holds an escape.
func (c *checker) str() (escaped bool, err error) {
	for c.i++; c.i < len(c.data); c.i++ {
		switch b := c.data[c.i]; {
		case b == '"':
			c.i++
			return escaped, nil
		case b == '\\':
			escaped = true
			c.i++
		case b < 0x20:
			return false, syntaxErr()
		}
	}
	return false, syntaxErr()
}

// skip reads one value without looking into it: nested objects and arrays
// by their brackets, strings by their quotes, and numbers and literals up
// to the next delimiter. The decode checks what skip let through.
func (c *checker) skip() error {
	depth := 0
	for {
		if c.skipSpace(); c.i == len(c.data) {
			return syntaxErr()
		}
		switch c.data[c.i] {
		case '{', '[':
			depth++
			c.i++
		case '}', ']':
			depth--
			c.i++
		case '"':
			if _, err := c.str(); err != nil {
				return err
			}
		case ',', ':':
			if depth == 0 {
				return syntaxErr()
			}
			c.i++
		default:
			start := c.i
			for c.i < len(c.data) && !delimiter(c.data[c.i]) {
				c.i++
			}
			if c.i == start {
				return syntaxErr()
			}
		}
		if depth < 0 {
			return syntaxErr()
		}
		if depth == 0 {
			return nil
		}
	}
}

// delimiter says whether b ends a number or a literal.
func delimiter(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\r', ',', ':', '[', ']', '{', '}', '"':
		return true
	}
	return false
}

// fields are the JSON names of a struct's exported fields, their types and
// where each is in the lists.
type fields struct {
	index map[string]int
	names []string
	types []reflect.Type
}

var fieldCache sync.Map // reflect.Type → *fields

// fieldsOf returns t's fields, computed once per type.
func fieldsOf(t reflect.Type) *fields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*fields)
	}
	f := &fields{index: map[string]int{}}
	for sf := range t.Fields() {
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = sf.Name
		}
		f.index[name] = len(f.names)
		f.names = append(f.names, name)
		f.types = append(f.types, sf.Type)
	}
	got, _ := fieldCache.LoadOrStore(t, f)
	return got.(*fields)
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
