package redisstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// requirePasskey covers the customer's decisions (approve, deny, revoke)
// alone: in a tenant that requires a passkey for every request, the
// provider's internal review still releases or ends a request, and the
// engineer still withdraws one the review holds, with no passkey; the
// customer's approval without one is refused.
func TestRequirePasskeyCoversTheCustomersDecisionsOnly(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		require.NoError(t, b.rdb.HSet(ctx, "lb:{"+ten+"}:settings", "passkey", "*").Err())
		now := time.Now()

		released := fileForReview(t, s, ten, 1, now)
		r, err := s.Act(ctx, ten, released.RequestID, internal(lockbox.ActionInternalApprove, "lead-1"))
		require.NoError(t, err, "the provider's internal approval needs no customer passkey")
		assert.Equal(t, lockbox.StatusPending, r.Status)

		denied := fileForReview(t, s, ten, 1, now)
		r, err = s.Act(ctx, ten, denied.RequestID, internal(lockbox.ActionInternalDeny, "lead-1"))
		require.NoError(t, err, "the provider's internal deny needs no customer passkey")
		assert.Equal(t, lockbox.StatusDenied, r.Status)

		withdrawn := fileForReview(t, s, ten, 1, now)
		r, err = s.Act(ctx, ten, withdrawn.RequestID, lockbox.Act{Action: lockbox.ActionCancel,
			Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: lockboxtest.Requester}, Principal: lockbox.UserKey(lockboxtest.Requester),
			Reason: "fixed without access", OnlyRequester: lockbox.UserKey(lockboxtest.Requester), At: now})
		require.NoError(t, err, "the engineer withdraws a request in review with no passkey")
		assert.Equal(t, lockbox.StatusCanceled, r.Status)

		_, err = s.Act(ctx, ten, released.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, now))
		require.Error(t, err)
		assert.Equal(t, lockbox.ErrPasskeyRequired().Error(), err.Error(), "the customer's approval without a passkey")
	})
}
