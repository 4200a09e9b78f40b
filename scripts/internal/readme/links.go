package readme

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Link is a Markdown link or an HTML src/href of a text, outside code.
type Link struct {
	Line   int    // from 1
	Target string // as written: a path, a path#fragment, #fragment or a URL
}

var (
	mdLink   = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	htmlLink = regexp.MustCompile(`\b(?:src|href)="([^"]+)"`)
	heading  = regexp.MustCompile(`^#{1,6} (.*)$`)
	inline   = regexp.MustCompile("`[^`]*`")
)

// Links returns the links of a Markdown text that are outside fenced
// blocks and inline code.
func Links(text string) []Link {
	var out []Link
	eachProse(text, func(n int, line string) {
		line = inline.ReplaceAllString(line, "")
		for _, re := range []*regexp.Regexp{mdLink, htmlLink} {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				out = append(out, Link{Line: n, Target: m[1]})
			}
		}
	})
	return out
}

// Anchors returns the fragment ids of a Markdown text's headings, as GitHub
// makes them: lower case, letters, digits, spaces, hyphens and underscores
// kept, spaces as hyphens, a repeated id numbered -1, -2 and so on.
func Anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	eachProse(text, func(_ int, line string) {
		m := heading.FindStringSubmatch(line)
		if m == nil {
			return
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(m[1])) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		id := b.String()
		if n := seen[id]; n > 0 {
			seen[id]++
			id = id + "-" + strconv.Itoa(n)
		} else {
			seen[id] = 1
		}
		out[id] = true
	})
	return out
}

// eachProse calls f with every line (and its number) outside fenced
// blocks.
func eachProse(text string, f func(n int, line string)) {
	inFence := ""
	for i, line := range strings.Split(text, "\n") {
		if m := fenceOpen.FindStringSubmatch(line); m != nil {
			switch {
			case inFence == "":
				inFence = m[2]
			case strings.HasPrefix(m[2], inFence) && strings.TrimSpace(m[3]) == "":
				inFence = ""
			}
			continue
		}
		if inFence == "" {
			f(i+1, line)
		}
	}
}
