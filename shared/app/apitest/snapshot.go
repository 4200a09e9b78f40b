package apitest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// databases is how many databases a snapshot reads (Redis's default).
const databases = 16

// Snapshot returns everything Redis holds, to compare before and after a
// call that must change nothing: every key of every database with its type
// and the time it has left to live, and its whole value, never cut: a
// string in full, a hash field by field (with any field's time to live), a
// list in order, a set's members, a sorted set's members with their exact
// scores, a stream's entries (ids and every field and value), its last
// generated id and its consumer groups (their consumers and pending
// entries, without idle times), a HyperLogLog's count. Strings are quoted,
// so a key or value cannot pass for the lines around it.
func (e *Env) Snapshot() string { return e.SnapshotExcept(nil) }

// SnapshotExcept is Snapshot without the keys skip reports (nil skips
// none): for calls that may write those keys and must change nothing else.
func (e *Env) SnapshotExcept(skip func(key string) bool) string {
	e.T.Helper()
	s, err := snapshot(e.T.Context(), e.Mini, skip)
	if err != nil {
		e.T.Fatalf("snapshot of Redis: %v", err)
	}
	return s
}

// SnapshotWithoutReplayMarkers is Snapshot without the keys that remember
// signed deliveries: for calls that must file nothing but do see a delivery.
func (e *Env) SnapshotWithoutReplayMarkers() string {
	return e.SnapshotExcept(func(key string) bool { return strings.Contains(key, ":sig:") })
}

// snapshot writes out every database of m that holds a key skip does not
// report.
func snapshot(ctx context.Context, m *miniredis.Miniredis, skip func(key string) bool) (string, error) {
	var b strings.Builder
	for i := range databases {
		db := m.DB(i)
		var keys []string
		for _, k := range db.Keys() {
			if skip == nil || !skip(k) {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			continue
		}
		if i != 0 {
			fmt.Fprintf(&b, "db %d\n", i)
		}
		for _, k := range keys {
			if err := writeKey(ctx, &b, m, i, db, k); err != nil {
				return "", fmt.Errorf("db %d key %q: %w", i, k, err)
			}
		}
	}
	return b.String(), nil
}

// writeKey writes key k of database n: a line naming it, its type and its
// time to live, then a line for each part of its value.
func writeKey(ctx context.Context, b *strings.Builder, m *miniredis.Miniredis, n int, db *miniredis.RedisDB, k string) error {
	typ := db.Type(k)
	fmt.Fprintf(b, "- %q %s, %s\n", k, typ, ttl(db.TTL(k)))
	switch typ {
	case "string":
		v, err := db.Get(k)
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "    %q\n", v)
	case "hash":
		fields, err := db.HKeys(k)
		if err != nil {
			return err
		}
		for _, f := range fields {
			line := fmt.Sprintf("    %q: %q", f, db.HGet(k, f))
			if d := db.HTTL(k, f); d != 0 {
				line += ", " + ttl(d)
			}
			b.WriteString(line + "\n")
		}
	case "list":
		items, err := db.List(k)
		if err != nil {
			return err
		}
		for _, v := range items {
			fmt.Fprintf(b, "    %q\n", v)
		}
	case "set":
		members, err := db.Members(k)
		if err != nil {
			return err
		}
		for _, v := range members {
			fmt.Fprintf(b, "    %q\n", v)
		}
	case "zset":
		scores, err := db.SortedSet(k)
		if err != nil {
			return err
		}
		members := make([]string, 0, len(scores))
		for v := range scores {
			members = append(members, v)
		}
		slices.Sort(members)
		for _, v := range members {
			fmt.Fprintf(b, "    %q: %s\n", v, strconv.FormatFloat(scores[v], 'g', -1, 64))
		}
	case "stream":
		entries, err := db.Stream(k)
		if err != nil {
			return err
		}
		for _, en := range entries {
			fmt.Fprintf(b, "    %s", en.ID)
			for _, v := range en.Values {
				fmt.Fprintf(b, " %q", v)
			}
			b.WriteString("\n")
		}
		return writeStreamState(ctx, b, m, n, k)
	case "hll":
		count, err := db.HllCount(k)
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "    count %d\n", count)
	default:
		return fmt.Errorf("type %q has no snapshot form", typ)
	}
	return nil
}

// writeStreamState writes what a stream holds besides its entries, which
// only commands show: its last generated id and its consumer groups.
func writeStreamState(ctx context.Context, b *strings.Builder, m *miniredis.Miniredis, n int, k string) error {
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), DB: n, Protocol: 3, MaxRetries: -1})
	defer func() { _ = rdb.Close() }()
	info, err := rdb.Do(ctx, "XINFO", "STREAM", k).Result()
	if err != nil {
		return fmt.Errorf("XINFO STREAM: %w", err)
	}
	fmt.Fprintf(b, "    %s\n", reply(info))
	groups, err := rdb.Do(ctx, "XINFO", "GROUPS", k).Slice()
	if err != nil {
		return fmt.Errorf("XINFO GROUPS: %w", err)
	}
	for _, g := range groups {
		fmt.Fprintf(b, "    group %s\n", reply(g))
		name, ok := field(g, "name").(string)
		if !ok {
			return fmt.Errorf("XINFO GROUPS: a group without a name: %s", reply(g))
		}
		consumers, err := rdb.Do(ctx, "XINFO", "CONSUMERS", k, name).Slice()
		if err != nil {
			return fmt.Errorf("XINFO CONSUMERS: %w", err)
		}
		for _, c := range consumers {
			fmt.Fprintf(b, "      consumer %s\n", reply(without(c, "idle", "inactive")))
		}
		pending, err := rdb.Do(ctx, "XPENDING", k, name, "-", "+", 1<<30).Slice()
		if err != nil {
			return fmt.Errorf("XPENDING: %w", err)
		}
		for _, p := range pending {
			// Each is [id, consumer, idle milliseconds, deliveries]: the
			// idle time moves with the clock.
			if e, ok := p.([]any); ok && len(e) == 4 {
				p = []any{e[0], e[1], e[3]}
			}
			fmt.Fprintf(b, "      pending %s\n", reply(p))
		}
	}
	return nil
}

// ttl says how long a key or field has left to live (0: for ever).
func ttl(d time.Duration) string {
	if d == 0 {
		return "no ttl"
	}
	return "ttl " + d.String()
}

// field is the value of name in a map reply (nil if there is none).
func field(v any, name string) any {
	if m, ok := v.(map[any]any); ok {
		return m[name]
	}
	if a, ok := v.([]any); ok {
		for i := 0; i+1 < len(a); i += 2 {
			if a[i] == name {
				return a[i+1]
			}
		}
	}
	return nil
}

// without is a map reply without the fields named.
func without(v any, names ...string) any {
	m, ok := v.(map[any]any)
	if !ok {
		return v
	}
	out := make(map[any]any, len(m))
	for k, x := range m {
		if s, ok := k.(string); !ok || !slices.Contains(names, s) {
			out[k] = x
		}
	}
	return out
}

// reply writes out a command's reply with strings quoted and a map's
// fields in order.
func reply(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = reply(x)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case map[any]any:
		parts := make([]string, 0, len(v))
		for k, x := range v {
			parts = append(parts, reply(k)+": "+reply(x))
		}
		slices.Sort(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case nil:
		return "nil"
	default:
		return fmt.Sprint(v)
	}
}
