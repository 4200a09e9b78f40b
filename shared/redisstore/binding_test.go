package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// operations lists the operation names of tenant's waiting events, oldest
// first.
func operations(t *testing.T, s *redisstore.Store, tenant string) []string {
	t.Helper()
	evs, err := s.ReadEvents(ctx, tenant, "", "", 100)
	require.NoError(t, err)
	var out []string
	for _, e := range evs {
		out = append(out, e.Event.OperationName)
	}
	return out
}

// A check is answered from the engineer's own live grants, each step of a
// grant's life seen by the next check; an allowed check counts toward the
// grant in the same step, and the first use of each resource is audited.
func TestCheck(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		now := time.Now()
		check := func(who, res, level string) lockbox.CheckResult {
			t.Helper()
			got, err := s.Check(ctx, ten, who, lockbox.CheckInput{TenantID: ten, ResourceID: res, AccessLevel: level, Method: "GET",
				URI: "/orders?id=7"}, now)
			require.NoError(t, err)
			return got
		}
		r := file(t, s, ten, "eng-7", now) // vm-1, Read
		assert.Equal(t, lockbox.CheckResult{Code: lockbox.CodePendingApproval, RequestID: r.RequestID}, check("eng-7", "vm-1", "Read"))
		assert.Equal(t, lockbox.CheckResult{Code: lockbox.CodeNoGrant}, check("eng-8", "vm-1", "Read"), "another engineer")

		r, err := s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, now))
		require.NoError(t, err)
		got := check("eng-7", "vm-1", "Read")
		assert.True(t, got.Allowed)
		assert.Equal(t, r.RequestID, got.RequestID)
		assert.Equal(t, r.AccessExpirationDateTime.UnixMilli(), got.AccessUntil.UnixMilli())
		assert.True(t, check("ENG-7", "vm-1", "read").Allowed, "the same engineer in another spelling, the level without case")
		assert.Equal(t, lockbox.CodeNoGrant, check("eng-7", "vm-9", "Read").Code, "a resource the grant does not name")
		assert.Equal(t, lockbox.CodeNoGrant, check("eng-7", "vm-1", "ReadWrite").Code, "a level the grant does not cover")
		assert.Equal(t, lockbox.CodeNoGrant, check("eng-8", "vm-1", "Read").Code, "another engineer")

		got2, err := s.Get(ctx, ten, r.RequestID)
		require.NoError(t, err)
		require.NotNil(t, got2.Usage)
		assert.Equal(t, 2, got2.Usage.Checks)
		require.Len(t, got2.Usage.Resources, 1)
		assert.Equal(t, "vm-1", got2.Usage.Resources[0].ResourceID)
		assert.Equal(t, 2, got2.Usage.Resources[0].Checks)

		revoked, err := s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionRevoke, "alice", "done", nil, now))
		require.NoError(t, err)
		require.NotNil(t, revoked.Usage, "the revoke's answer holds the grant's usage")
		assert.Equal(t, 2, revoked.Usage.Checks)
		assert.Equal(t, lockbox.StatusRevoked, revoked.Status)
		assert.Equal(t, lockbox.CheckResult{Code: lockbox.CodeGrantEnded, RequestID: r.RequestID}, check("eng-7", "vm-1", "Read"),
			"the next check after a revoke")

		// One UseLockboxGrant for vm-1 however often it was used; one
		// RefuseLockboxAccess per engineer, resource and minute.
		assert.Equal(t, []string{lockbox.OpCreate, lockbox.OpRefuseAccess, lockbox.OpRefuseAccess, lockbox.OpApprove, lockbox.OpUseGrant,
			lockbox.OpRefuseAccess, lockbox.OpRevoke}, operations(t, s, ten))
	})
}

// A grant is usable exactly until its end: a check a millisecond before it
// is allowed, one at it refused, before any sweep ran.
func TestCheckAtTheGrantsEnd(t *testing.T) {
	b := miniBackend(t)
	s := redisstore.New(b.rdb, lockbox.DefaultLimits)
	ten := tenant(t)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	r := file(t, s, ten, "eng-7", now)
	_, err := s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", lockboxtest.Hours(1), now))
	require.NoError(t, err)
	in := lockbox.CheckInput{TenantID: ten, ResourceID: "vm-1", AccessLevel: "Read"}
	b.mini.FastForward(time.Hour - time.Millisecond)
	got, err := s.Check(ctx, ten, "eng-7", in, now.Add(time.Hour-time.Millisecond))
	require.NoError(t, err)
	assert.True(t, got.Allowed, "a millisecond before the end")
	b.mini.FastForward(time.Millisecond)
	got, err = s.Check(ctx, ten, "eng-7", in, now.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, lockbox.CheckResult{Code: lockbox.CodeGrantEnded, RequestID: r.RequestID}, got, "at the end")
}

// A credential is recorded only for the requester's own live grant.
func TestIssueCredential(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		now := time.Now()
		r := file(t, s, ten, "eng-7", now)
		c := lockbox.Credential{Serial: 42, Fingerprint: "SHA256:abc"}
		_, err := s.IssueCredential(ctx, ten, r.RequestID, "eng-7", c, now)
		assert.Equal(t, "GrantNotLive", code(err), "pending")
		_, err = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, now))
		require.NoError(t, err)
		_, err = s.IssueCredential(ctx, ten, r.RequestID, "eng-8", c, now)
		assert.Equal(t, lockbox.KindNotFound, lockbox.KindOf(err), "another engineer's request")
		_, err = s.IssueCredential(ctx, "other-"+ten, r.RequestID, "eng-7", c, now)
		assert.Equal(t, lockbox.KindNotFound, lockbox.KindOf(err), "another tenant")
		got, err := s.IssueCredential(ctx, ten, r.RequestID, "Eng-7", c, now)
		require.NoError(t, err)
		assert.True(t, got.AccessActive)
		require.NotNil(t, got.Usage)
		assert.Equal(t, 1, got.Usage.Credentials)
		_, err = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionRevoke, "alice", "done", nil, now))
		require.NoError(t, err)
		_, err = s.IssueCredential(ctx, ten, r.RequestID, "eng-7", c, now)
		assert.Equal(t, "GrantNotLive", code(err), "revoked")
		ops := operations(t, s, ten)
		assert.Equal(t, lockbox.OpIssueCredential, ops[len(ops)-2])
	})
}

func code(err error) string {
	if le, ok := err.(*lockbox.Error); ok {
		return le.Code
	}
	return ""
}

// A check naming a tenant Lockbox has never filed a request for is refused
// (NoGrant) and writes nothing: an engineer's token cannot fill Redis with
// refusals, counters and tenant names it makes up (each such event would
// wait forever for an export, as the tenant is in no tenant list).
func TestCheckInAnUnknownTenantWritesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		for i := range 5 {
			ten := fmt.Sprintf("made-up-%d-%s", i, tenant(t))
			got, err := s.Check(ctx, ten, "eng-7", lockbox.CheckInput{TenantID: ten, ResourceID: "vm-1", Method: "GET", URI: "/"}, time.Now())
			require.NoError(t, err)
			assert.Equal(t, lockbox.CheckResult{Code: lockbox.CodeNoGrant}, got)
			keys, err := b.rdb.Keys(ctx, "lb:{"+ten+"}:*").Result()
			require.NoError(t, err)
			assert.Empty(t, keys, "nothing written for %s", ten)
			member, err := b.rdb.SIsMember(ctx, redisstore.StatsTenantsKey, ten).Result()
			require.NoError(t, err)
			assert.False(t, member, "not among the tenants whose counters are summed")
		}
	})
}
