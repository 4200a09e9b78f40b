package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

// referenceCanonical is the canonical form as the package doc defines it:
// encoding/json with HTML escaping off. The hand-written encoder must write
// exactly these bytes, or every hash chain archived before would break.
func referenceCanonical(t *testing.T, r Record) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(r))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestCanonicalMatchesEncodingJSON(t *testing.T) {
	tricky := []string{
		"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr",
		"\b\f\x00\x01\x1f\x7f", "line\u2028para\u2029end", "héllo wörld ☃ 𝄞", "\xff\xfe invalid \xc3", "\xe2\x80",
		"\U0010ffff", "\ufffd", strings.Repeat("é\"", 50),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "0", " ", `"`, `\`, "\n", "\x00", "\x1b", "\x7f", "<", "&", "é", "☃", "\u2028", "\u2029", "𝄞", "\xff", "\xe2\x80", "\xc3"}
	for range 5000 {
		var sb strings.Builder
		for range rng.IntN(24) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		tricky = append(tricky, sb.String())
	}
	for i, s := range tricky {
		r := Record{Seq: uint64(i) * 7919, Time: "2026-11-27T09:00:00.000Z", TenantID: "contoso", RequestID: s, OperationName: lockbox.OpCreate,
			Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: s}, FromStatus: s, ToStatus: "Pending", Reason: s, SupportRequest: s,
			PrevHash: ZeroHash, Hash: s}
		require.Equal(t, string(referenceCanonical(t, r)), string(r.Canonical()), "string %q", s)
	}
}

// Sealing with the hand-written encoder gives the line and hash that
// encoding/json gives.
func TestSealMatchesReference(t *testing.T) {
	r := Record{Time: "2026-11-27T09:00:00.000Z", TenantID: "contoso", RequestID: "r1", OperationName: lockbox.OpApprove,
		Actor: lockbox.Actor{Kind: lockbox.ActorApprover, ID: "alice"}, FromStatus: "Pending", ToStatus: "Approved",
		Reason: "ok \u2028 <b>\"fine\"</b>\n", SupportRequest: "INC-1"}
	line := r.appendSealed([]byte("previous line\n"), 41, strings.Repeat("ab", 32))
	require.Equal(t, "previous line\n"+string(referenceCanonical(t, r))+"\n", string(line))
	require.Equal(t, r.ComputeHash(), r.Hash)
	require.Equal(t, uint64(42), r.Seq)
}

// A malformed entry stops the export before anything is written.
func TestExportRefusesAMalformedEvent(t *testing.T) {
	f := setup(t)
	require.NoError(t, f.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: redisstore.EventsKey("contoso"), Values: []any{redisstore.EventField, "5:short"}}).Err())
	_, err := f.exp.ExportTenant(t.Context(), "contoso")
	require.Error(t, err)
	assert.Equal(t, lockbox.KindInternal, lockbox.KindOf(err))
	assert.Empty(t, must(f.bkt.List(t.Context(), TenantPrefix("contoso"))))
}

func TestFormatTimeMatchesLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	times := []time.Time{time.Unix(0, 0), time.Date(2026, 11, 27, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 29, 2, 30, 0, 5_000_000, time.FixedZone("CEST", 2*3600))}
	for range 10000 {
		times = append(times, time.UnixMilli(rng.Int64N(4_102_444_800_000)))
	}
	for _, tm := range times {
		require.Equal(t, tm.UTC().Format(TimeFormat), FormatTime(tm), "%v", tm)
	}
}
