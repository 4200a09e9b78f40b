package intake

import (
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"

	"lockbox.dev/shared/lockbox"
)

func (l *loader) mapping(n *yaml.Node, at string) *Mapping {
	f, ok := l.fields(n, at, mapKeys...)
	if !ok {
		return nil
	}
	var req map[string]*yaml.Node
	if r, ok := f["requester"]; ok {
		req, _ = l.fields(r, at+".requester", requesterKeys...)
	}
	m := &Mapping{}
	for _, fd := range createFields[1:] {
		node, key := f, fd.name
		if k, ok := strings.CutPrefix(fd.name, "requester."); ok {
			node, key = req, k
		}
		vn, ok := node[key]
		if !ok {
			if fd.required {
				l.fail(at+"."+fd.name, "required")
			}
			continue
		}
		v := l.value(vn, at+"."+fd.name, fd.kind == kindList)
		if v != nil {
			l.settle(fd, v, at+"."+fd.name)
			*fd.value(m) = v
		}
	}
	return m
}

// settle finishes v as the value of field fd: the checks that depend on
// the field.
func (l *loader) settle(fd field, v *Value, at string) {
	if fd.name == "supportCaseUrl" && v.template != nil {
		v.escapeURL = true
		if !urlPrefix(v.template.literalPrefix(), len(v.template.placeholders) > 0) {
			l.fail(at, "a supportCaseUrl template must start with http:// or https://, a host and '/', '?' or '#' before its first placeholder")
		}
	}
	l.checkConst(fd, v, at)
}

// urlPrefix reports whether prefix, the text of a template before its first
// placeholder, fixes the scheme and host of a URL.
func urlPrefix(prefix string, placeholders bool) bool {
	u, err := url.Parse(prefix)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	if !placeholders {
		return true
	}
	after, _ := strings.CutPrefix(prefix, u.Scheme+"://")
	return strings.ContainsAny(after, "/?#")
}

// checkConst validates a constant as the value of fd, with the domain's
// rules, when the configuration is loaded.
func (l *loader) checkConst(fd field, v *Value, at string) {
	if v.Const == nil {
		return
	}
	var in lockbox.CreateInput
	switch fd.kind {
	case kindList:
		in.ResourceIDs = []string{*v.Const}
	case kindHours:
		h, err := parseHours(*v.Const)
		if err != nil {
			l.fail(at, "%s", err)
			return
		}
		in.Duration = &h
	default:
		*fd.text(&in) = *v.Const
	}
	if err := fd.check(&in); err != nil {
		l.fail(at, "%s", err)
	}
}

// value reads {path | value | template} (and split, where allowSplit).
func (l *loader) value(n *yaml.Node, at string, allowSplit bool) *Value {
	keys := []string{"path", "value", "template"}
	if allowSplit {
		keys = append(keys, "split")
	}
	f, ok := l.fields(n, at, keys...)
	if !ok {
		return nil
	}
	v := &Value{}
	set := 0
	if p, ok := f["path"]; ok {
		set++
		if v.Path, ok = l.scalar(p, at+".path"); ok {
			v.path = l.path(v.Path, at)
		}
	}
	if c, ok := f["value"]; ok {
		set++
		if s, ok := l.scalar(c, at+".value"); ok {
			v.Const = &s
		}
	}
	if t, ok := f["template"]; ok {
		set++
		if v.Template, ok = l.scalar(t, at+".template"); ok {
			v.template = l.template(v.Template, at)
		}
	}
	if set != 1 {
		l.fail(at, "give exactly one of path, value, template")
		return nil
	}
	if sp, ok := f["split"]; ok {
		v.Split, _ = l.scalar(sp, at+".split")
		if v.Path == "" || v.Split == "" || len(v.Split) > 8 {
			l.fail(at+".split", "split takes a separator of 1..8 bytes, with a path")
		}
	}
	return v
}

func (l *loader) path(s, at string) path {
	p, err := parsePath(s)
	if err != nil {
		l.fail(at, "%s", err)
	}
	return p
}

func (l *loader) template(s, at string) *template {
	t, errs := parseTemplate(s)
	for _, err := range errs {
		l.fail(at, "%s", err)
	}
	if len(errs) > 0 {
		return nil
	}
	return t
}

// condition reads a leaf {path, equals | in | exists} or a combination
// {all | any | not}.
func (l *loader) condition(n *yaml.Node, at string, depth int) *Condition {
	if depth > maxCondDepth {
		l.fail(at, "conditions nest at most %d deep", maxCondDepth)
		return nil
	}
	f, ok := l.fields(n, at, "path", "equals", "in", "exists", "all", "any", "not")
	if !ok {
		return nil
	}
	c := &Condition{}
	if _, ok := f["path"]; ok {
		l.leaf(c, f, at)
		return c
	}
	return l.combination(c, f, at, depth)
}

func (l *loader) leaf(c *Condition, f map[string]*yaml.Node, at string) {
	for _, k := range []string{"all", "any", "not"} {
		if _, ok := f[k]; ok {
			l.fail(at+"."+k, "a condition with a path takes equals, in or exists, not %s", k)
		}
	}
	var ok bool
	if c.Path, ok = l.scalar(f["path"], at+".path"); ok {
		c.path = l.path(c.Path, at+".path")
	}
	tests := 0
	if e, ok := f["equals"]; ok {
		tests++
		if s, ok := l.scalar(e, at+".equals"); ok {
			c.Equals = &s
		}
	}
	if in, ok := f["in"]; ok {
		tests++
		c.In, _ = l.texts(in, at+".in", 1, maxInList)
	}
	if ex, ok := f["exists"]; ok {
		tests++
		if b, ok := l.boolean(ex, at+".exists"); ok {
			c.Exists = &b
		}
	}
	if tests != 1 {
		l.fail(at, "a condition with a path takes exactly one of equals, in, exists")
	}
}

func (l *loader) combination(c *Condition, f map[string]*yaml.Node, at string, depth int) *Condition {
	given := 0
	for _, k := range []string{"equals", "in", "exists"} {
		if _, ok := f[k]; ok {
			l.fail(at+"."+k, "%s needs a path", k)
		}
	}
	if n, ok := f["all"]; ok {
		given++
		c.All = l.conditions(n, at+".all", depth)
	}
	if n, ok := f["any"]; ok {
		given++
		c.Any = l.conditions(n, at+".any", depth)
	}
	if n, ok := f["not"]; ok {
		given++
		c.Not = l.condition(n, at+".not", depth+1)
	}
	if given != 1 {
		l.fail(at, "a condition is a path with equals, in or exists, or exactly one of all, any, not")
		return nil
	}
	return c
}

func (l *loader) conditions(n *yaml.Node, at string, depth int) []Condition {
	items, ok := l.sequence(n, at, 1, maxCondList)
	if !ok {
		return nil
	}
	out := make([]Condition, 0, len(items))
	for i, item := range items {
		if c := l.condition(item, fmt.Sprintf("%s[%d]", at, i), depth+1); c != nil {
			out = append(out, *c)
		}
	}
	return out
}
