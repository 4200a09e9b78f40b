package redisstore

import (
	"context"
	"embed"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// The store's scripts are the Lua files in lua/, embedded, each run after
// the prelude (prelude.go, lua/prelude.lua). They are rendered once, when the
// package loads, and rendering resolves every name a script uses, so that
// the Lua reads by name and a call decodes nothing:
//
//   - S.<Status> becomes the status (S.Pending: 'Pending'), and
//     key('<name>' the key of that name in keyNames (key('all'):
//     key('idx:all')).
//   - A.<name> becomes ARGV[i]: the script's arguments are the fields of a
//     struct (createArgs for lua/create.lua…), tagged lua:"<name>", in
//     order. A struct may end with a slice of structs, a group repeated
//     after the other arguments: in the Lua, #A is the number of the others,
//     #R the size of one group and R.<name> the place of an argument within
//     its group (0 for the first), so that a loop reads ARGV[i + R.<name>].
//   - F.<name> becomes the place of a field in the record a file reads with
//     HMGET, whose field list (declared in Go) it writes unpack(F): after
//     local f = redis.call('HMGET', rk, unpack(F)), f[F.status] is the
//     record's status. The prelude also declares fields it reads only for
//     some records, in a second HMGET whose list it writes unpack(FR) and
//     whose values it appends: F.<name> of one of those is its place after
//     the others.
//
// A name the Go side does not declare, or an argument that the script never
// uses, panics when the package loads, as does a struct whose args method
// does not give its fields in their order. A call sends ARGV in that order:
// no table of names is built or decoded while a script runs (Redis runs a
// script's whole body on every EVALSHA; building tables of names once cost
// about 14 µs of a create's 187). Comment lines are dropped when rendering.
// lua/.luacheckrc declares these names, and those the prelude defines, to
// luacheck (luacheck shared/redisstore/lua).

//go:embed lua/*.lua
var luaFiles embed.FS

// argList is the arguments of a script: a struct of fields tagged
// lua:"<name>" (strings and integers, then maybe one slice of such
// structs), whose args method returns its fields in their order, the
// repeated group's last.
type argList interface{ args() []any }

// A luaScript is a rendered script that takes the arguments of T.
type luaScript[T argList] struct {
	s   *redis.Script
	src string // as rendered
}

// Run runs the script with the arguments a: see scriptCall.Run.
func (l luaScript[T]) Run(ctx context.Context, c redis.Scripter, keys []string, a T) *redis.Cmd {
	return l.With(a).Run(ctx, c, keys)
}

// With returns the call of the script with the arguments a, for a caller
// that sends it more than once (a pipeline, then a reload): a call holds
// ARGV, built once, and no copy of a.
func (l luaScript[T]) With(a T) scriptCall { return scriptCall{s: l.s, argv: a.args()} }

// Load loads the script into Redis's script cache.
func (l luaScript[T]) Load(ctx context.Context, c redis.Scripter) *redis.StringCmd {
	return l.s.Load(ctx, c)
}

// A scriptCall is a script with its ARGV.
type scriptCall struct {
	s    *redis.Script
	argv []any
}

// Run runs the script with EVALSHA, and loads it with EVAL if Redis does
// not have it.
func (c scriptCall) Run(ctx context.Context, rc redis.Scripter, keys []string) *redis.Cmd {
	return c.s.Run(ctx, rc, keys, c.argv...)
}

// EvalSha runs the script with EVALSHA only (in a pipeline, whose caller
// handles NOSCRIPT).
func (c scriptCall) EvalSha(ctx context.Context, rc redis.Scripter, keys []string) *redis.Cmd {
	return c.s.EvalSha(ctx, rc, keys, c.argv...)
}

// loadScript renders lua/<file>, which takes the arguments of T and reads
// the record fields given (its unpack(F)), after the prelude.
func loadScript[T argList](file string, fields ...string) luaScript[T] {
	src := renderScript[T](file, luaSource(file), fields)
	return luaScript[T]{s: redis.NewScript(src), src: src}
}

// renderScript renders the Lua body of file (named in panics) after the
// prelude.
func renderScript[T argList](file, body string, fields []string) string {
	defer func() {
		if p := recover(); p != nil {
			panic(fmt.Sprintf("%v (lua/%s)", p, file))
		}
	}()
	fixed, group := argNames(reflect.TypeFor[T]())
	checkArgsOrder[T]()
	return resolveNames(resolveArgs(prelude+resolveFields(uncommented(body), fields, nil), fixed, group))
}

// luaSource returns lua/<file>.
func luaSource(file string) string {
	b, err := luaFiles.ReadFile("lua/" + file)
	if err != nil {
		panic("redisstore: " + err.Error())
	}
	return string(b)
}

// uncommented returns src without its comment lines: they document the
// source, need not travel to Redis, and use no name.
func uncommented(src string) string { return commentLine.ReplaceAllString(src, "") }

var (
	luaName     = regexp.MustCompile(`^[A-Za-z0-9:._-]*$`)
	commentLine = regexp.MustCompile(`(?m)^[ \t]*--.*\n`)
	statusRef   = regexp.MustCompile(`\bS\.([A-Z][A-Za-z]*)`)
	keyNameRef  = regexp.MustCompile(`\bkey\('([A-Za-z]+)'`)
	argRef      = regexp.MustCompile(`\bA\.([A-Za-z][A-Za-z0-9]*)\b`)
	groupRef    = regexp.MustCompile(`\bR\.([A-Za-z][A-Za-z0-9]*)\b`)
	fieldRef    = regexp.MustCompile(`\bF\.([A-Za-z][A-Za-z0-9]*)\b`)
	fieldList   = regexp.MustCompile(`\bunpack\(F\)`)
	rareList    = regexp.MustCompile(`\bunpack\(FR\)`)
	argCount    = regexp.MustCompile(`#A\b`)
	groupSize   = regexp.MustCompile(`#R\b`)
)

// resolveNames replaces S.<Status> by the status and key('<name>' by the
// key's name in keyNames.
func resolveNames(src string) string {
	src = statusRef.ReplaceAllStringFunc(src, func(m string) string {
		st := lockbox.Status(statusRef.FindStringSubmatch(m)[1])
		if !slices.Contains(lockbox.Statuses, st) {
			panic(fmt.Sprintf("redisstore: a script names the unknown status %q", st))
		}
		return lit(string(st))
	})
	return keyNameRef.ReplaceAllStringFunc(src, func(m string) string {
		name := keyNameRef.FindStringSubmatch(m)[1]
		k, ok := keyNames[name]
		if !ok {
			panic(fmt.Sprintf("redisstore: a script names the unknown key %q", name))
		}
		return "key(" + lit(k)
	})
}

// resolveArgs replaces A.<name> by ARGV[i], #A by the number of fixed
// arguments, R.<name> by its place in the repeated group and #R by the
// group's size. It panics on a name that is not an argument and on an
// argument that src does not use.
func resolveArgs(src string, fixed, group []string) string {
	src = resolveList(src, argRef, "argument", fixed, func(i int) string { return "ARGV[" + strconv.Itoa(i+1) + "]" })
	src = resolveList(src, groupRef, "repeated argument", group, strconv.Itoa)
	if argCount.MatchString(src) != (len(group) > 0) || groupSize.MatchString(src) != (len(group) > 0) {
		panic("redisstore: a script reads a repeated group of arguments (#A and #R) exactly when its arguments end with one")
	}
	src = argCount.ReplaceAllString(src, strconv.Itoa(len(fixed)))
	return groupSize.ReplaceAllString(src, strconv.Itoa(len(group)))
}

// resolveFields replaces unpack(F) by the names of fields, unpack(FR) by
// those of rare (fields read only for some records, appended to the
// others) and F.<name> by the place of name among fields, then rare. It
// panics on a field not among them, and when src does not read them
// (unpack(F), unpack(FR)) or reads none.
func resolveFields(src string, fields, rare []string) string {
	if fieldList.MatchString(src) != (len(fields) > 0) {
		panic(fmt.Sprintf("redisstore: a script reads the record fields %q with unpack(F) exactly when it declares them", fields))
	}
	if rareList.MatchString(src) != (len(rare) > 0) {
		panic(fmt.Sprintf("redisstore: a script reads the record fields %q with unpack(FR) exactly when it declares them", rare))
	}
	names := func(fields []string) string {
		lits := make([]string, len(fields))
		for i, f := range fields {
			lits[i] = lit(f)
		}
		return strings.Join(lits, ", ")
	}
	src = fieldList.ReplaceAllLiteralString(src, names(fields))
	src = rareList.ReplaceAllLiteralString(src, names(rare))
	all := slices.Concat(fields, rare)
	return fieldRef.ReplaceAllStringFunc(src, func(m string) string {
		name := fieldRef.FindStringSubmatch(m)[1]
		i := slices.Index(all, name)
		if i < 0 {
			panic(fmt.Sprintf("redisstore: a script names the record field %q, not one of %q", name, all))
		}
		return strconv.Itoa(i + 1)
	})
}

// resolveList replaces each match of ref by render(the place of its name in
// names), and panics on a name not in names or a name never matched.
func resolveList(src string, ref *regexp.Regexp, what string, names []string, render func(int) string) string {
	used := make([]bool, len(names))
	src = ref.ReplaceAllStringFunc(src, func(m string) string {
		name := ref.FindStringSubmatch(m)[1]
		i := slices.Index(names, name)
		if i < 0 {
			panic(fmt.Sprintf("redisstore: a script names the %s %q, not one of %q", what, name, names))
		}
		used[i] = true
		return render(i)
	})
	if i := slices.Index(used, false); i >= 0 {
		panic(fmt.Sprintf("redisstore: a script never reads its %s %q", what, names[i]))
	}
	return src
}

// lit renders s as a Lua string literal. The names rendered are fixed
// identifiers; anything else is a programming error.
func lit(s string) string {
	if !luaName.MatchString(s) {
		panic(fmt.Sprintf("redisstore: %q cannot be a Lua name", s))
	}
	return "'" + s + "'"
}

// argNames returns the argument names of the fields of struct t, and those
// of its repeated group (the fields of the element of its last field, when
// that is a slice).
func argNames(t reflect.Type) (fixed, group []string) {
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("redisstore: arguments of type %s are not a struct", t))
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Slice && i == t.NumField()-1 {
			group, _ = argNames(f.Type.Elem())
			if len(group) == 0 {
				panic(fmt.Sprintf("redisstore: %s.%s repeats no argument", t, f.Name))
			}
			break
		}
		name := f.Tag.Get("lua")
		switch {
		case name == "" || !f.IsExported():
			panic(fmt.Sprintf("redisstore: %s.%s has no lua:\"<name>\" tag", t, f.Name))
		case !slices.Contains([]reflect.Kind{reflect.String, reflect.Int, reflect.Int64, reflect.Uint64}, f.Type.Kind()):
			panic(fmt.Sprintf("redisstore: %s.%s is a %s, not a string or an integer", t, f.Name, f.Type))
		case slices.Contains(fixed, name):
			panic(fmt.Sprintf("redisstore: %s names the argument %q twice", t, name))
		}
		fixed = append(fixed, name)
	}
	return fixed, group
}

// checkArgsOrder panics unless T's args method gives T's fields in their
// order: it fills a T with a distinct value in each field (and two
// repetitions of its group) and compares.
func checkArgsOrder[T argList]() {
	var a T
	v := reflect.ValueOf(&a).Elem()
	var want []any
	n := 0
	var fill func(s reflect.Value)
	fill = func(s reflect.Value) {
		for i := range s.NumField() {
			f := s.Field(i)
			n++
			switch f.Kind() {
			case reflect.String:
				f.SetString("arg" + strconv.Itoa(n))
			case reflect.Int, reflect.Int64:
				f.SetInt(int64(n))
			case reflect.Uint64:
				f.SetUint(uint64(n)) // #nosec G115 -- n counts the struct's fields: small and positive
			case reflect.Slice:
				f.Set(reflect.MakeSlice(f.Type(), 2, 2))
				for j := range 2 {
					fill(f.Index(j))
				}
				continue
			}
			want = append(want, f.Interface())
		}
	}
	fill(v)
	got := a.args()
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			panic(fmt.Sprintf("redisstore: %T.args() gives %d arguments, not its %d fields in their order (from ARGV[%d] on)",
				a, len(got), len(want), i+1))
		}
	}
}
