package readme

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLinksAndAnchors(t *testing.T) {
	md := "# The `make run` stack\n\nSee [a](docs/a.md#x-y), <img src=\"p.png\"> and `[not](code.md)`.\n\n" +
		"```sh\n# not a heading [nor](link.md)\n```\n\n## Ticketing systems\n\n## Ticketing systems\n\n### `lockbox-check` — ask\n"
	assert.Equal(t, []Link{{Line: 3, Target: "docs/a.md#x-y"}, {Line: 3, Target: "p.png"}}, Links(md))
	assert.Equal(t, map[string]bool{
		"the-make-run-stack":  true,
		"ticketing-systems":   true,
		"ticketing-systems-1": true,
		"lockbox-check--ask":  true,
	}, Anchors(md))
}
