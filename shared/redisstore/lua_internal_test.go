package redisstore

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestResolveNames(t *testing.T) {
	got := resolveNames(`if st == S.Pending then redis.call('ZADD', key('all'), 1, id) end ` +
		`redis.call('ZREM', key('status', S.Approved), id) local s = redis.call('HGET', key('req', id), 'S.x')`)
	assert.Equal(t, `if st == 'Pending' then redis.call('ZADD', key('idx:all'), 1, id) end `+
		`redis.call('ZREM', key('idx:status:', 'Approved'), id) local s = redis.call('HGET', key('req:', id), 'S.x')`, got)

	assert.PanicsWithValue(t, `redisstore: a script names the unknown status "Pendng"`, func() { resolveNames(`S.Pendng`) })
	assert.PanicsWithValue(t, `redisstore: a script names the unknown key "alll"`, func() { resolveNames(`key('alll')`) })
}

// The arguments of scripts planted below.
type twoArgs struct {
	Prefix string `lua:"prefix"`
	ID     string `lua:"id"`
}

func (a twoArgs) args() []any { return []any{a.Prefix, a.ID} }

// swappedArgs gives its arguments out of their order.
type swappedArgs twoArgs

func (a swappedArgs) args() []any { return []any{a.ID, a.Prefix} }

// shortArgs forgets an argument.
type shortArgs twoArgs

func (a shortArgs) args() []any { return []any{a.Prefix} }

type groupArgs struct {
	Prefix string `lua:"prefix"`
	N      int64  `lua:"n"`
	Items  []itemArgs
}

type itemArgs struct {
	ID   string `lua:"id"`
	Size int    `lua:"size"`
}

func (a groupArgs) args() []any {
	out := []any{a.Prefix, a.N}
	for _, it := range a.Items {
		out = append(out, it.ID, it.Size)
	}
	return out
}

// untaggedArgs has a field without a name.
type untaggedArgs struct {
	Prefix string `lua:"prefix"`
	ID     string
}

func (a untaggedArgs) args() []any { return []any{a.Prefix, a.ID} }

// Scripts name their arguments and record fields; rendering turns the names
// into places, from the arguments' struct and the fields' list.
func TestRenderResolvesArgumentsAndFields(t *testing.T) {
	src := renderScript[twoArgs]("planted.lua", `local f = redis.call('HMGET', key('req', A.id), unpack(F)) return f[F.seq] .. S.Denied`,
		[]string{"status", "seq"})
	assert.Contains(t, src, `local f = redis.call('HMGET', key('req:', ARGV[2]), 'status', 'seq') return f[2] .. 'Denied'`)
	assert.Contains(t, src, `local P = ARGV[1]`, "the prelude reads the prefix by name too")

	// The prelude's rare fields (unpack(FR)) are read apart; their places
	// follow the others'.
	src = resolveFields(`local f, r = redis.call('HMGET', k, unpack(F)), redis.call('HMGET', k, unpack(FR)) return f[F.seq] .. f[F.internal]`,
		[]string{"status", "seq"}, []string{"internal"})
	assert.Equal(t, `local f, r = redis.call('HMGET', k, 'status', 'seq'), redis.call('HMGET', k, 'internal') return f[2] .. f[3]`, src)

	src = renderScript[groupArgs]("planted.lua", `for i = #A + 1, #ARGV, #R do redis.call('SET', ARGV[i + R.id], ARGV[i + R.size] + A.n) end`, nil)
	assert.Contains(t, src, `for i = 2 + 1, #ARGV, 2 do redis.call('SET', ARGV[i + 0], ARGV[i + 1] + ARGV[2]) end`)
	assert.Equal(t, []any{"p", int64(7), "a", 1, "b", 2}, groupArgs{Prefix: "p", N: 7, Items: []itemArgs{{"a", 1}, {"b", 2}}}.args())
}

// A name the Go side does not declare, an argument the script never reads,
// or arguments built out of their declared order stop the package loading.
func TestRenderRefusesWhatDoesNotAgree(t *testing.T) {
	for name, c := range map[string]struct {
		render func()
		panic  string
	}{
		"unknown status": {func() { renderScript[twoArgs]("planted.lua", `return A.id == S.Pendng`, nil) },
			`redisstore: a script names the unknown status "Pendng" (lua/planted.lua)`},
		"unknown key": {func() { renderScript[twoArgs]("planted.lua", `return key('alll', A.id)`, nil) },
			`redisstore: a script names the unknown key "alll" (lua/planted.lua)`},
		"unknown argument": {func() { renderScript[twoArgs]("planted.lua", `return A.id .. A.idd`, nil) },
			`redisstore: a script names the argument "idd", not one of ["prefix" "id"] (lua/planted.lua)`},
		"unused argument": {func() { renderScript[twoArgs]("planted.lua", `return 1`, nil) },
			`redisstore: a script never reads its argument "id" (lua/planted.lua)`},
		"argument in a comment only": {func() { renderScript[twoArgs]("planted.lua", "-- A.id\nreturn 1", nil) },
			`redisstore: a script never reads its argument "id" (lua/planted.lua)`},
		"unknown field": {func() {
			renderScript[twoArgs]("planted.lua", `local f = redis.call('HMGET', A.id, unpack(F)) return f[F.stauts]`, []string{"status"})
		}, `redisstore: a script names the record field "stauts", not one of ["status"] (lua/planted.lua)`},
		"fields not read": {func() { renderScript[twoArgs]("planted.lua", `return A.id`, []string{"status"}) },
			`redisstore: a script reads the record fields ["status"] with unpack(F) exactly when it declares them (lua/planted.lua)`},
		"rare fields not read": {func() {
			resolveFields(`return redis.call('HMGET', k, unpack(F))`, []string{"status"}, []string{"internal"})
		},
			`redisstore: a script reads the record fields ["internal"] with unpack(FR) exactly when it declares them`},
		"rare fields not declared": {func() {
			renderScript[twoArgs]("planted.lua", `return redis.call('HMGET', A.id, unpack(F)), redis.call('HMGET', A.id, unpack(FR))`, []string{"status"})
		}, `redisstore: a script reads the record fields [] with unpack(FR) exactly when it declares them (lua/planted.lua)`},
		"unknown repeated argument": {func() {
			renderScript[groupArgs]("planted.lua", `for i = #A + 1, #ARGV, #R do return ARGV[i + R.id] + ARGV[i + R.size] + R.sise + A.n end`, nil)
		}, `redisstore: a script names the repeated argument "sise", not one of ["id" "size"] (lua/planted.lua)`},
		"unused repeated argument": {func() {
			renderScript[groupArgs]("planted.lua", `for i = #A + 1, #ARGV, #R do return ARGV[i + R.id] + A.n end`, nil)
		},
			`redisstore: a script never reads its repeated argument "size" (lua/planted.lua)`},
		"group without its size": {func() { renderScript[groupArgs]("planted.lua", `return ARGV[R.id] + ARGV[R.size] + A.n`, nil) },
			`redisstore: a script reads a repeated group of arguments (#A and #R) exactly when its arguments end with one (lua/planted.lua)`},
		"arguments out of order": {func() { renderScript[swappedArgs]("planted.lua", `return A.id`, nil) },
			`redisstore: redisstore.swappedArgs.args() gives 2 arguments, not its 2 fields in their order (from ARGV[1] on) (lua/planted.lua)`},
		"an argument missing": {func() { renderScript[shortArgs]("planted.lua", `return A.id`, nil) },
			`redisstore: redisstore.shortArgs.args() gives 1 arguments, not its 2 fields in their order (from ARGV[2] on) (lua/planted.lua)`},
		"an argument without a name": {func() { renderScript[untaggedArgs]("planted.lua", `return A.prefix`, nil) },
			`redisstore: redisstore.untaggedArgs.ID has no lua:"<name>" tag (lua/planted.lua)`},
	} {
		assert.PanicsWithValue(t, c.panic, c.render, name)
	}
}

// Every script of the store renders to Lua with no name left unresolved.
func TestScriptsRenderEveryName(t *testing.T) {
	left := regexp.MustCompile(`\b[ASFR]\.[A-Za-z_]|#[AR]\b|\bunpack\(FR?\)`)
	for name, src := range map[string]string{
		"create": createScript.src, "act": actScript.src, "put settings": putSettingsScript.src, "settle": settleScript.src,
		"list": listScript.src, "prune mark": pruneMarkScript.src, "fire timers": fireTimersScript.src, "expand": expandScript.src,
		"claim": claimScript.src, "result": resultScript.src, "export plan": exportPlanScript.src, "export ack": exportAckScript.src,
		"export unlock": exportUnlockScript.src,
	} {
		assert.NotRegexp(t, left, src, name)
		assert.NotContains(t, src, "\n--", name)
	}
}
