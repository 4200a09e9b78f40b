package intake

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// loader walks the YAML tree of a configuration, collecting every problem,
// each named by where it is in the document.
type loader struct {
	errs []error
}

func (l *loader) fail(at, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
}

// pair is one key and its value in a mapping, in document order.
type pair struct {
	key   string
	value *yaml.Node
}

// pairs returns the entries of the mapping n, refusing anything else,
// aliases and keys given twice.
func (l *loader) pairs(n *yaml.Node, at string) ([]pair, bool) {
	if !l.plain(n, at) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		l.fail(at, "must be a mapping, not %s", kindName(n))
		return nil, false
	}
	var out []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			l.fail(at, "keys must be text")
			continue
		}
		if seen[k.Value] {
			l.fail(at, "key %q is given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, value: v})
	}
	return out, true
}

// fields returns the entries of the mapping n by key, refusing keys not in
// allowed.
func (l *loader) fields(n *yaml.Node, at string, allowed ...string) (map[string]*yaml.Node, bool) {
	ps, ok := l.pairs(n, at)
	if !ok {
		return nil, false
	}
	out := make(map[string]*yaml.Node, len(ps))
	for _, p := range ps {
		if !slices.Contains(allowed, p.key) {
			l.fail(at, "unknown key %q (allowed: %s)", p.key, strings.Join(allowed, ", "))
			continue
		}
		out[p.key] = p.value
	}
	return out, true
}

// plain refuses aliases: the configuration is small enough to be written
// out, and an alias could multiply it.
func (l *loader) plain(n *yaml.Node, at string) bool {
	if n.Kind == yaml.AliasNode {
		l.fail(at, "aliases are not supported")
		return false
	}
	return true
}

// scalar returns the text of the scalar n (not null).
func (l *loader) scalar(n *yaml.Node, at string) (string, bool) {
	if !l.plain(n, at) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.fail(at, "must be a value, not %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// boolean returns the boolean n.
func (l *loader) boolean(n *yaml.Node, at string) (bool, bool) {
	s, ok := l.scalar(n, at)
	if !ok {
		return false, false
	}
	if n.Tag != "!!bool" {
		l.fail(at, "must be true or false")
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		l.fail(at, "must be true or false, not %q", s)
		return false, false
	}
	return b, true
}

// sequence returns the entries of the sequence n: min..max of them.
func (l *loader) sequence(n *yaml.Node, at string, minLen, maxLen int) ([]*yaml.Node, bool) {
	if !l.plain(n, at) {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		l.fail(at, "must be a list, not %s", kindName(n))
		return nil, false
	}
	if len(n.Content) < minLen || len(n.Content) > maxLen {
		l.fail(at, "must hold %d..%d entries", minLen, maxLen)
		return nil, false
	}
	return n.Content, true
}

// texts returns the scalars of the sequence n.
func (l *loader) texts(n *yaml.Node, at string, minLen, maxLen int) ([]string, bool) {
	items, ok := l.sequence(n, at, minLen, maxLen)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		if s, ok := l.scalar(item, fmt.Sprintf("%s[%d]", at, i)); ok {
			out = append(out, s)
		}
	}
	return out, len(out) == len(items)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return "a value"
	}
	return "a document"
}
