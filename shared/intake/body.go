package intake

import (
	"github.com/tidwall/gjson"

	"lockbox.dev/shared/lockbox"
)

// maxDepth bounds how deeply a delivery's JSON may nest.
const maxDepth = 64

// checkBody refuses a body that is not one JSON value, nests deeper than
// maxDepth or repeats a key in an object (KindInvalid). The depth is checked
// first, by a scan that does not recurse, so that nothing after it recurses
// deeper than maxDepth.
func checkBody(body []byte) error {
	if !shallow(body) {
		return lockbox.Invalidf("the body nests deeper than %d levels", maxDepth)
	}
	if !gjson.ValidBytes(body) {
		return lockbox.Invalidf("the body is not valid JSON")
	}
	if !uniqueKeys(gjson.ParseBytes(body)) {
		return lockbox.Invalidf("the body has a key twice in one object")
	}
	return nil
}

// shallow reports whether the brackets of body, outside strings, nest at
// most maxDepth deep.
func shallow(body []byte) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range body {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > maxDepth {
				return false
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return true
}

// uniqueKeys reports whether no object within v has a key twice.
func uniqueKeys(v gjson.Result) bool {
	ok := true
	switch {
	case v.IsObject():
		seen := map[string]struct{}{}
		v.ForEach(func(k, e gjson.Result) bool {
			if _, dup := seen[k.Str]; dup {
				ok = false
				return false
			}
			seen[k.Str] = struct{}{}
			ok = uniqueKeys(e)
			return ok
		})
	case v.IsArray():
		v.ForEach(func(_, e gjson.Result) bool {
			ok = uniqueKeys(e)
			return ok
		})
	}
	return ok
}
