package readme

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// DefaultKind says what a Configuration table's default column holds.
type DefaultKind int

const (
	DefaultValue    DefaultKind = iota // a value, in backticks
	DefaultRequired                    // (required): no default, the stack must give one
	DefaultUnset                       // unset: off unless given
)

// Var is one variable of the README's Configuration table.
type Var struct {
	Name    string
	Kind    DefaultKind
	Default string // for DefaultValue
	Line    int    // in the document, from 1
}

// A variable, default or list item in backticks.
var backticked = regexp.MustCompile("`([^`]*)`")

// ConfigTable reads the variables of the table under the README's
// "## Configuration" heading. A row names one or more variables in
// backticks in its "variable" column; its "default" column holds one
// default for all of them or one per variable, separated by commas, each a
// value in backticks, "(required)" or "unset".
func ConfigTable(readme string) ([]Var, error) {
	lines := strings.Split(readme, "\n")
	start := slices.IndexFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "#") && strings.TrimSpace(strings.TrimLeft(l, "#")) == "Configuration"
	})
	if start < 0 {
		return nil, fmt.Errorf(`no "Configuration" heading`)
	}
	var vars []Var
	varCol, defCol := -1, -1
	inTable := false
	for i := start + 1; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if strings.HasPrefix(line, "#") {
			break // the next section
		}
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break // the end of the first table
			}
			continue
		}
		cells := tableCells(line)
		switch {
		case !inTable:
			inTable = true
			varCol, defCol = slices.Index(cells, "variable"), slices.Index(cells, "default")
			if varCol < 0 || defCol < 0 {
				return nil, fmt.Errorf("line %d: the Configuration table needs a \"variable\" and a \"default\" column: %s", i+1, line)
			}
			continue
		case strings.Trim(strings.Join(cells, ""), "-: ") == "":
			continue // the separator row
		case len(cells) <= max(varCol, defCol):
			return nil, fmt.Errorf("line %d: a row with too few cells: %s", i+1, line)
		}
		names := backticked.FindAllStringSubmatch(cells[varCol], -1)
		if len(names) == 0 {
			return nil, fmt.Errorf("line %d: no variable in backticks in %q", i+1, cells[varCol])
		}
		defs, err := parseDefaults(cells[defCol])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if len(defs) != 1 && len(defs) != len(names) {
			return nil, fmt.Errorf("line %d: %d variables but %d defaults in %q: give one default for all or one per variable",
				i+1, len(names), len(defs), cells[defCol])
		}
		for j, n := range names {
			v := defs[0]
			if len(defs) > 1 {
				v = defs[j]
			}
			v.Name, v.Line = n[1], i+1
			vars = append(vars, v)
		}
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("no variables in the Configuration table")
	}
	return vars, nil
}

// tableCells splits a Markdown table row into its trimmed cells.
func tableCells(row string) []string {
	row = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(row), "|"), "|")
	cells := strings.Split(row, "|")
	for i, c := range cells {
		cells[i] = strings.TrimSpace(c)
	}
	return cells
}

// parseDefaults reads a default column: comma-separated items (commas
// inside backticks do not count), each a value in backticks (the first
// one; words after it are commentary), "(required)" or "unset".
func parseDefaults(cell string) ([]Var, error) {
	var items []string
	var cur strings.Builder
	inTicks := false
	for _, r := range cell {
		switch {
		case r == '`':
			inTicks = !inTicks
		case r == ',' && !inTicks:
			items = append(items, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	items = append(items, cur.String())
	out := make([]Var, 0, len(items))
	for _, item := range items {
		item = strings.TrimSpace(item)
		switch m := backticked.FindStringSubmatch(item); {
		case m != nil:
			out = append(out, Var{Kind: DefaultValue, Default: m[1]})
		case strings.HasPrefix(item, "(required)"):
			out = append(out, Var{Kind: DefaultRequired})
		case strings.HasPrefix(item, "unset"):
			out = append(out, Var{Kind: DefaultUnset})
		default:
			return nil, fmt.Errorf("cannot read the default %q: write a value in backticks, (required) or unset", item)
		}
	}
	return out, nil
}

// Row is a row of a Markdown table: its cells by the column's heading, and
// its line in the text, from 1.
type Row struct {
	Cells map[string]string
	Line  int
}

// Table returns the rows of the first table of text whose heading row has
// every one of columns, each cell trimmed.
func Table(text string, columns ...string) ([]Row, error) {
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(strings.TrimSpace(lines[i]), "|") {
			continue
		}
		head := tableCells(lines[i])
		if slices.ContainsFunc(columns, func(c string) bool { return !slices.Contains(head, c) }) {
			// Not this table: skip to its end.
			for i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "|") {
				i++
			}
			continue
		}
		var rows []Row
		for j := i + 1; j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "|"); j++ {
			cells := tableCells(lines[j])
			if strings.Trim(strings.Join(cells, ""), "-: ") == "" {
				continue // the separator row
			}
			if len(cells) != len(head) {
				return nil, fmt.Errorf("line %d: %d cells under %d headings: %s", j+1, len(cells), len(head), lines[j])
			}
			r := Row{Cells: map[string]string{}, Line: j + 1}
			for k, c := range cells {
				r.Cells[head[k]] = c
			}
			rows = append(rows, r)
		}
		return rows, nil
	}
	return nil, fmt.Errorf("no table with the columns %s", strings.Join(columns, ", "))
}

// Names returns the words in backticks of a cell (`a`, `b`).
func Names(cell string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}
