package redisstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

func TestEventEncoding(t *testing.T) {
	e := lockbox.Event{Seq: 7, OperationName: lockbox.OpDeny, RequestID: "r-1", Time: time.UnixMilli(1795770000123).UTC(), TenantID: "contoso",
		Actor:      lockbox.Actor{Kind: lockbox.ActorApprover, ID: "alice"},
		FromStatus: lockbox.StatusPending, ToStatus: lockbox.StatusDenied, Reason: "12:34 — not:now\n\"☃\""}
	s := redisstore.EncodeEvent(e)
	assert.True(t, strings.HasPrefix(s, "1:718:DenyLockboxRequest3:r-113:17957700001238:approver5:alice7:Pending6:Denied"), s)
	got, err := redisstore.DecodeEntry("contoso", []any{redisstore.EventField, s})
	require.NoError(t, err)
	assert.Equal(t, e, got)

	for _, bad := range []string{"", "3:abc", s + "1:x", s[:len(s)-1], "x:abc" + s[5:], "-1:" + s, "99999999999999999999:a",
		"1:718:DenyLockboxRequest3:r-12:xy8:approver5:alice7:Pending6:Denied0:0:", "1:0" + s[3:]} {
		_, err := redisstore.DecodeEntry("contoso", []any{redisstore.EventField, bad})
		assert.Error(t, err, "%q", bad)
	}
	// An entry in any other layout is malformed too.
	for _, fields := range [][]any{{"v1", s}, {redisstore.EventField, s, "reason", "x"}, {redisstore.EventField, []byte(s)},
		{"op", lockbox.OpCreate, "requestId", "r-2", "time", "1795770000000", "actorKind", "engineer", "actorId", "eng-7"}} {
		_, err := redisstore.DecodeEntry("contoso", fields)
		assert.Error(t, err, "%q", fields)
	}
}

// What the scripts write is what the exporter reads, whatever the reason
// holds: colons, digits, new lines, multi-byte characters, NUL; and every event
// carries the next seq of its tenant.
func TestScriptsWriteTheEventLayout(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		now := time.Now().UTC().Truncate(time.Millisecond)
		r := file(t, s, ten, "eng-1", now)
		reason := "12:34 — not:now\n\"☃\" 0:\x00:end" // a NUL byte too: the store takes what it is given
		_, err := s.Act(context.Background(), ten, r.RequestID, lockboxtest.Decision(lockbox.ActionDeny, "alice", reason, nil, now))
		require.NoError(t, err)

		msgs, err := b.rdb.XRange(context.Background(), redisstore.EventsKey(ten), "-", "+").Result()
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		assert.Equal(t, lockbox.Event{Seq: 1, OperationName: lockbox.OpCreate, RequestID: r.RequestID, Time: now, TenantID: ten,
			Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-1"}, ToStatus: lockbox.StatusPending, SupportRequest: r.SupportRequest},
			decodeEvent(t, ten, msgs[0]))
		assert.Equal(t, lockbox.Event{Seq: 2, OperationName: lockbox.OpDeny, RequestID: r.RequestID, Time: now, TenantID: ten,
			Actor: lockbox.Actor{Kind: lockbox.ActorApprover, ID: "alice"}, FromStatus: lockbox.StatusPending, ToStatus: lockbox.StatusDenied,
			Reason: reason, SupportRequest: r.SupportRequest}, decodeEvent(t, ten, msgs[1]))
	})
}

// Waiting events read newest first, between two positions, both left out.
func TestReadEventsBefore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		tn := tenant(t)
		now := time.Now()
		for range 5 {
			file(t, s, tn, "eng-7", now)
		}
		all, err := s.ReadEvents(t.Context(), tn, "", "", 10)
		if err != nil || len(all) != 5 {
			t.Fatalf("got %d events, %v; want 5", len(all), err)
		}
		seqs := func(evs []lockbox.LoggedEvent) (out []uint64) {
			for _, e := range evs {
				out = append(out, e.Event.Seq)
			}
			return out
		}
		for _, c := range []struct {
			name          string
			before, after string
			n             int
			want          []uint64
		}{
			{"newest", "", "", 2, []uint64{5, 4}},
			{"all", "", "", 10, []uint64{5, 4, 3, 2, 1}},
			{"before the 4th", all[3].ID, "", 10, []uint64{3, 2, 1}},
			{"between the 2nd and 5th", all[4].ID, all[1].ID, 10, []uint64{4, 3}},
			{"down to the 4th", "", all[3].ID, 10, []uint64{5}},
			{"nothing between neighbours", all[2].ID, all[1].ID, 10, nil},
		} {
			got, err := s.ReadEventsBefore(t.Context(), tn, c.before, c.after, c.n)
			if err != nil || !slices.Equal(seqs(got), c.want) {
				t.Errorf("%s: got %v, %v; want %v", c.name, seqs(got), err, c.want)
			}
		}
		if got, _ := s.ReadEventsBefore(t.Context(), tn, "", "", 1); len(got) != 1 || got[0] != all[4] {
			t.Errorf("got %+v, want the newest as ReadEvents reads it", got)
		}
	})
}
