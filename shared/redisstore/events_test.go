package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisstore"
)

func TestEventEncoding(t *testing.T) {
	e := redisstore.Event{Op: lockbox.OpDeny, RequestID: "r-1", TimeMs: 1795770000123, ActorKind: "approver", ActorID: "alice",
		From: "Pending", To: "Denied", Reason: "12:34 — not:now\n\"☃\"", SupportRequest: ""}
	s := redisstore.EncodeEvent(e)
	assert.True(t, strings.HasPrefix(s, "18:DenyLockboxRequest3:r-113:17957700001238:approver5:alice7:Pending6:Denied"), s)
	got, err := redisstore.DecodeEvent(s)
	require.NoError(t, err)
	assert.Equal(t, e, got)

	for _, bad := range []string{"", "3:abc", s + "1:x", s[:len(s)-1], "x:abc" + s[5:], "-1:" + s, "99999999999999999999:a",
		"18:DenyLockboxRequest3:r-12:xy8:approver5:alice7:Pending6:Denied0:0:"} {
		_, err := redisstore.DecodeEvent(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// What the scripts write is what DecodeEvent reads, whatever the reason
// holds: colons, digits, new lines, multi-byte characters.
func TestScriptsWriteTheEventLayout(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		now := time.Now().UTC().Truncate(time.Millisecond)
		r := file(t, s, ten, "eng-1", now)
		reason := "12:34 — not:now\n\"☃\" 0:"
		_, err := s.Deny(context.Background(), ten, r.RequestID, "alice", reason, now)
		require.NoError(t, err)

		msgs, err := b.rdb.XRange(context.Background(), redisstore.EventsKey(ten), "-", "+").Result()
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		assert.Equal(t, redisstore.Event{Op: lockbox.OpCreate, RequestID: r.RequestID, TimeMs: now.UnixMilli(), ActorKind: "engineer",
			ActorID: "eng-1", To: "Pending", SupportRequest: r.SupportRequest}, decodeEvent(t, msgs[0]))
		assert.Equal(t, redisstore.Event{Op: lockbox.OpDeny, RequestID: r.RequestID, TimeMs: now.UnixMilli(), ActorKind: "approver",
			ActorID: "alice", From: "Pending", To: "Denied", Reason: reason, SupportRequest: r.SupportRequest}, decodeEvent(t, msgs[1]))
	})
}
