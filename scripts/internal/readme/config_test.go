package readme

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The table reader itself, on the shapes of row it accepts and refuses.
func TestReadmeConfigTable(t *testing.T) {
	readme := "# X\n\n## Configuration\n\ntext\n\n| variable | default | meaning |\n|---|---|---|\n" +
		"| `a` | (required) | x |\n| `b`, `c` | `1`, `2` | y |\n| `d`, `e` | `10s` | z |\n| `f` | unset | w |\n" +
		"| `g`, `h` | (required), `x,y` (commentary) | v |\n\nafter\n\n| variable | default |\n|---|---|\n| `ignored` | `1` |\n"
	vars, err := ConfigTable(readme)
	require.NoError(t, err)
	assert.Equal(t, []Var{
		{Name: "a", Kind: DefaultRequired, Line: 9},
		{Name: "b", Default: "1", Line: 10}, {Name: "c", Default: "2", Line: 10},
		{Name: "d", Default: "10s", Line: 11}, {Name: "e", Default: "10s", Line: 11},
		{Name: "f", Kind: DefaultUnset, Line: 12},
		{Name: "g", Kind: DefaultRequired, Line: 13}, {Name: "h", Default: "x,y", Line: 13},
	}, vars)

	for _, bad := range []string{
		"## Configuration\n\n| variable | default |\n|---|---|\n| `a`, `b`, `c` | `1`, `2` |\n",
		"## Configuration\n\n| variable | default |\n|---|---|\n| `a` | one hour |\n",
		"## Configuration\n\n| name | value |\n|---|---|\n| `a` | `1` |\n",
		"## Config\n",
	} {
		_, err := ConfigTable(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// Table finds the table with the columns asked for, not the first one, and
// refuses a row that does not fit its headings.
func TestTable(t *testing.T) {
	md := "| a | b |\n|---|---|\n| 1 | 2 |\n\ntext\n\n| secret | needed | what |\n|---|---|---|\n" +
		"| `x`, `y` | yes | keys |\n| `z` | optional | a password |\n"
	rows, err := Table(md, "secret", "needed")
	require.NoError(t, err)
	assert.Equal(t, []Row{
		{Cells: map[string]string{"secret": "`x`, `y`", "needed": "yes", "what": "keys"}, Line: 9},
		{Cells: map[string]string{"secret": "`z`", "needed": "optional", "what": "a password"}, Line: 10},
	}, rows)
	assert.Equal(t, []string{"x", "y"}, Names(rows[0].Cells["secret"]))

	_, err = Table(md, "secret", "default")
	assert.Error(t, err)
	_, err = Table("| a | b |\n|---|---|\n| 1 |\n", "a")
	assert.ErrorContains(t, err, "line 3")
}
