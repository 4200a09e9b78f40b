// Package readme reads what the tests hold the repository's Markdown
// documents to: their fenced code blocks with the readme-test markers that
// say why a block is not run, the blocks marked as examples, and the
// README's Configuration table.
//
// A shell block that cannot run in a test (it needs Docker, a real OpenFaaS
// or cloud credentials, or starts make run itself) is marked by an HTML
// comment on the line right before its fence, with the reason:
//
//	<!-- readme-test: skip (needs Docker and a registry) -->
//
// A reason that names a test ("covered by TestMakeRunExternalRedis") must
// name one that exists (DefinedTests). A block that runs only where some
// programs are installed, or only as root, names them instead:
//
//	<!-- readme-test: needs (nginx, sshd, root) -->
//
// and is skipped, saying so, where one is missing (in CI that is a
// failure). Blocks in other languages, without a language, or whose lines
// start with "$ " (a transcript, not commands) are not run.
package readme

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Block is a fenced code block of a Markdown text.
type Block struct {
	Line int    // of the opening fence, from 1
	Lang string // the first word of the info string, lower case; "" for none
	Text string // the lines between the fences
	// Skip is the reason given by a <!-- readme-test: skip (reason) -->
	// comment on the line right before the fence; "" when not marked.
	Skip string
	// Needs are the programs (on PATH) a <!-- readme-test: needs (…) -->
	// comment names, and "root" when the block must run as root.
	Needs []string
}

// NeedRoot is the need of a block that must run as root.
const NeedRoot = "root"

// shellLangs are the info strings of blocks that are shell commands.
var shellLangs = []string{"sh", "bash", "shell"}

// Runnable says whether the block is shell commands to run and, if not,
// why.
func (b Block) Runnable() (bool, string) {
	if !slices.Contains(shellLangs, b.Lang) {
		if b.Lang == "" {
			return false, "no language: not shell"
		}
		return false, b.Lang + ": not shell"
	}
	for _, l := range strings.Split(b.Text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " \t"), "$ ") {
			return false, `a transcript ("$ " prompts), not commands`
		}
	}
	return true, ""
}

var (
	fenceOpen = regexp.MustCompile("^( {0,3})(`{3,}|~{3,})(.*)$")
	marker    = regexp.MustCompile(`^\s*<!--\s*readme-test:(.*?)-->\s*$`)
	skipDir   = regexp.MustCompile(`^skip\s*\((.*)\)$`)
	needsDir  = regexp.MustCompile(`^needs\s*\((.*)\)$`)
	needName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	// inlineCode is a Markdown code span.
	inlineCode = regexp.MustCompile("`+[^`]*`+")
)

// MarkerSyntax is how a block is marked, for error messages.
const MarkerSyntax = "<!-- readme-test: skip (why it cannot run in a test) -->"

// NeedsSyntax is how a block names what it needs, for error messages.
const NeedsSyntax = "<!-- readme-test: needs (program, program, root) -->"

// Blocks returns the fenced code blocks of a Markdown text with their
// readme-test markers. It reports every misplaced or malformed marker and
// an unclosed fence.
func Blocks(text string) ([]Block, error) {
	lines := strings.Split(text, "\n")
	var blocks []Block
	var errs []error
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		// A marker mentioned in prose, as inline code, is not one.
		if strings.Contains(inlineCode.ReplaceAllString(line, ""), "readme-test:") {
			if !marker.MatchString(line) {
				errs = append(errs, fmt.Errorf("line %d: a readme-test comment must be a line of its own: %s", i+1, MarkerSyntax))
			} else if i+1 >= len(lines) || !isFenceOpen(lines[i+1]) {
				errs = append(errs, fmt.Errorf("line %d: a readme-test comment must be on the line right before a code fence", i+1))
			}
			continue
		}
		m := fenceOpen.FindStringSubmatch(line)
		if m == nil || (m[2][0] == '`' && strings.Contains(m[3], "`")) {
			continue
		}
		indent, fence, info := len(m[1]), m[2], strings.TrimSpace(m[3])
		b := Block{Line: i + 1}
		if f := strings.Fields(info); len(f) > 0 {
			b.Lang = strings.ToLower(f[0])
		}
		if i > 0 {
			if mm := marker.FindStringSubmatch(lines[i-1]); mm != nil {
				directive := strings.TrimSpace(mm[1])
				sm := skipDir.FindStringSubmatch(directive)
				nm := needsDir.FindStringSubmatch(directive)
				switch {
				case nm != nil:
					needs, err := parseNeeds(nm[1])
					if err != nil {
						errs = append(errs, fmt.Errorf("line %d: %w: %s", i, err, NeedsSyntax))
					}
					b.Needs = needs
				case directive == "skip":
					errs = append(errs, fmt.Errorf("line %d: a skipped block needs its reason: %s", i, MarkerSyntax))
				case sm == nil:
					errs = append(errs, fmt.Errorf("line %d: unknown readme-test directive %q: the directives are %s and %s", i, directive, MarkerSyntax, NeedsSyntax))
				case strings.TrimSpace(sm[1]) == "":
					errs = append(errs, fmt.Errorf("line %d: a skipped block needs its reason: %s", i, MarkerSyntax))
				default:
					b.Skip = strings.TrimSpace(sm[1])
				}
			}
		}
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			l := lines[i]
			if t := strings.TrimLeft(l, " "); len(l)-len(t) <= 3 && strings.HasPrefix(t, fence) &&
				strings.TrimSpace(strings.TrimLeft(t, fence[:1])) == "" {
				closed = true
				break
			}
			// The content loses the fence's indentation.
			for n := 0; n < indent && strings.HasPrefix(l, " "); n++ {
				l = l[1:]
			}
			body = append(body, l)
		}
		if !closed {
			errs = append(errs, fmt.Errorf("line %d: the code fence is never closed", b.Line))
		}
		b.Text = strings.Join(body, "\n")
		blocks = append(blocks, b)
	}
	return blocks, errors.Join(errs...)
}

// parseNeeds reads the list of a needs directive: names separated by
// commas or spaces.
func parseNeeds(list string) ([]string, error) {
	names := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(names) == 0 {
		return nil, errors.New("a needs directive names what the block needs")
	}
	for _, n := range names {
		if !needName.MatchString(n) {
			return nil, fmt.Errorf("%q is not the name of a program", n)
		}
	}
	return names, nil
}

// Missing returns what of the block's needs this machine lacks: the
// programs lookPath does not find, and root when euid is not 0.
func (b Block) Missing(lookPath func(string) (string, error), euid int) []string {
	var missing []string
	for _, n := range b.Needs {
		if n == NeedRoot {
			if euid != 0 {
				missing = append(missing, "root")
			}
			continue
		}
		if _, err := lookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	return missing
}

func isFenceOpen(line string) bool {
	m := fenceOpen.FindStringSubmatch(line)
	return m != nil && !(m[2][0] == '`' && strings.Contains(m[3], "`"))
}

// Marked returns the blocks of a Markdown text marked with <!-- name: args
// --> on the line before the fence, by the marker's arguments.
func Marked(text, name string) (map[string]Block, error) {
	blocks, err := Blocks(text)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(text, "\n")
	mark := regexp.MustCompile(`^\s*<!--\s*` + regexp.QuoteMeta(name) + `:\s*(.*?)\s*-->\s*$`)
	out := map[string]Block{}
	for _, b := range blocks {
		if b.Line < 2 {
			continue
		}
		if m := mark.FindStringSubmatch(lines[b.Line-2]); m != nil {
			if prev, dup := out[m[1]]; dup {
				return nil, fmt.Errorf("line %d: <!-- %s: %s --> marks a block already (line %d)", b.Line-1, name, m[1], prev.Line-1)
			}
			out[m[1]] = b
		}
	}
	return out, nil
}

// Section returns the part of a Markdown text under the heading (its whole
// line, such as "## Ticketing systems") up to the next heading of the same
// or a higher level, and the line number of the heading.
func Section(text, heading string) (string, int, error) {
	level := len(heading) - len(strings.TrimLeft(heading, "#"))
	lines := strings.Split(text, "\n")
	start := slices.Index(lines, heading)
	if level == 0 || start < 0 {
		return "", 0, fmt.Errorf("no heading %q", heading)
	}
	end := len(lines)
	inFence := ""
	for i := start + 1; i < len(lines); i++ {
		if m := fenceOpen.FindStringSubmatch(lines[i]); m != nil {
			switch {
			case inFence == "":
				inFence = m[2]
			case strings.HasPrefix(m[2], inFence) && strings.TrimSpace(m[3]) == "":
				inFence = ""
			}
			continue
		}
		if inFence != "" {
			continue
		}
		if n := len(lines[i]) - len(strings.TrimLeft(lines[i], "#")); n > 0 && n <= level && strings.HasPrefix(lines[i][n:], " ") {
			end = i
			break
		}
	}
	return strings.Join(lines[start:end], "\n"), start + 1, nil
}

// testNames are the test functions a skip reason names.
var testNames = regexp.MustCompile(`\bTest[A-Z0-9_]\w*`)

// TestsNamed returns the names of the tests a skip reason names.
func TestsNamed(reason string) []string { return testNames.FindAllString(reason, -1) }

// DefinedTests returns the names of the test functions of every Go test
// file of the repository.
func DefinedTests(repo string) (map[string]bool, error) {
	defined := map[string]bool{}
	funcTest := regexp.MustCompile(`(?m)^func (Test\w*)\(`)
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != repo && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcTest.FindAllSubmatch(b, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find the repository's tests: %w", err)
	}
	return defined, nil
}
