package intake

import (
	"slices"

	"github.com/tidwall/gjson"
)

// Condition selects the deliveries an action acts on: a leaf (Path with
// one of Equals, In or Exists) or a combination (All, Any or Not).
type Condition struct {
	Path   string
	Equals *string
	In     []string
	Exists *bool
	All    []Condition
	Any    []Condition
	Not    *Condition

	path path
}

// Matches reports whether c holds for body, a body accepted by Route's
// checks. A nil condition holds for every delivery.
func (c *Condition) Matches(body []byte) bool {
	switch {
	case c == nil:
		return true
	case c.All != nil:
		for i := range c.All {
			if !c.All[i].Matches(body) {
				return false
			}
		}
		return true
	case c.Any != nil:
		for i := range c.Any {
			if c.Any[i].Matches(body) {
				return true
			}
		}
		return false
	case c.Not != nil:
		return !c.Not.Matches(body)
	}
	return c.leaf(c.path.get(body))
}

func (c *Condition) leaf(r gjson.Result) bool {
	present := r.Exists() && r.Type != gjson.Null
	if c.Exists != nil {
		return present == *c.Exists
	}
	s, ok := scalarText(r)
	if !ok {
		return false
	}
	if c.Equals != nil {
		return s == *c.Equals
	}
	return slices.Contains(c.In, s)
}

// scalarText is the text a condition compares: a string's content, a
// number's or a boolean's JSON literal. Objects, arrays, null and missing
// values have none.
func scalarText(r gjson.Result) (string, bool) {
	switch r.Type {
	case gjson.String:
		return r.Str, true
	case gjson.Number, gjson.True, gjson.False:
		return r.Raw, true
	}
	return "", false
}
