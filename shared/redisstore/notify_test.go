package redisstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/redisstore"
)

// notes returns the types of tenant's outbox, in order.
func notes(t *testing.T, s *redisstore.Store, tenant string) []lockbox.NotificationType {
	t.Helper()
	ns, err := s.Outbox(ctx, tenant, 100)
	require.NoError(t, err)
	out := make([]lockbox.NotificationType, len(ns))
	for i, n := range ns {
		out[i] = n.Type
	}
	return out
}

// Every change someone must hear about is in the outbox, recorded by the
// script that made it: filing, a quorum step, the decision, revocation,
// cancellation, an automatic decision, and what the sweep records.
func TestChangesRecordNotifications(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.Limits{PendingTTL: time.Hour, AccessTTL: 2 * time.Hour, MaxAccessTTL: 24 * time.Hour})
		ten := tenant(t)
		set := lockbox.DefaultSettings(true)
		set.RequiredApprovals = 2
		set.Rules = []lockbox.Rule{{Name: "eng-5", Effect: lockbox.EffectAutoDeny, Match: lockbox.RuleMatch{RequesterIDs: []string{"eng-5"}}}}
		_, err := s.PutSettings(ctx, ten, set, 0, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}, "test", time.Now())
		require.NoError(t, err)
		now := time.Now()
		r := file(t, s, ten, "eng-1", now)
		for _, by := range []string{"alice", "bob"} {
			_, err = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, by, "ok", nil, now))
			require.NoError(t, err)
		}
		_, err = s.Act(ctx, ten, r.RequestID, lockboxtest.Decision(lockbox.ActionRevoke, "carol", "done", nil, now))
		require.NoError(t, err)
		c := file(t, s, ten, "eng-1", now)
		cancel := lockboxtest.Decision(lockbox.ActionCancel, "eng-1", "not needed", nil, now)
		cancel.Actor.Kind = lockbox.ActorEngineer
		_, err = s.Act(ctx, ten, c.RequestID, cancel)
		require.NoError(t, err)
		file(t, s, ten, "eng-5", now) // denied by the rule
		assert.Equal(t, []lockbox.NotificationType{lockbox.NoteCreated, lockbox.NoteApproval, lockbox.NoteApproved, lockbox.NoteRevoked,
			lockbox.NoteReceipt, lockbox.NoteCreated, lockbox.NoteCanceled, lockbox.NoteDenied}, notes(t, s, ten))
		ns, err := s.Outbox(ctx, ten, 100)
		require.NoError(t, err)
		assert.Equal(t, lockbox.Actor{Kind: lockbox.ActorSystem, ID: "rule:eng-5"}, ns[7].Actor)
		assert.Equal(t, "rule eng-5", ns[7].Reason)
		assert.Equal(t, "bob", ns[2].Actor.ID)
	})
}

// A grant that ends records its access receipt in the step that ends it:
// the revoke (with the revoker and the reason, like the revocation's note)
// and the sweep's completion; a grant that never started (denied, expired,
// canceled) has none.
func TestGrantEndRecordsReceipt(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		lim := lockbox.Limits{PendingTTL: 300 * time.Millisecond, AccessTTL: 300 * time.Millisecond, MaxAccessTTL: time.Hour}
		s := redisstore.New(b.rdb, lim)
		ten := tenant(t)
		now := time.Now().Truncate(time.Millisecond)
		outbox := "lb:{" + ten + "}:outbox"
		act := func(id string, a lockbox.Action, by string) {
			t.Helper()
			_, err := s.Act(ctx, ten, id, lockboxtest.Decision(a, by, "reason of "+by, nil, now))
			require.NoError(t, err)
		}
		revoked, completed := file(t, s, ten, "eng-1", now), file(t, s, ten, "eng-2", now)
		denied, expired := file(t, s, ten, "eng-3", now), file(t, s, ten, "eng-4", now)
		act(revoked.RequestID, lockbox.ActionApprove, "alice")
		act(completed.RequestID, lockbox.ActionApprove, "alice")
		act(denied.RequestID, lockbox.ActionDeny, "bob")
		require.NoError(t, b.rdb.Del(ctx, outbox).Err()) // the filings and decisions: not what this test is about

		act(revoked.RequestID, lockbox.ActionRevoke, "carol")
		ns, err := s.Outbox(ctx, ten, 10)
		require.NoError(t, err)
		require.Len(t, ns, 2, "the revoke's one script recorded the revocation and the receipt")
		assert.Equal(t, []lockbox.NotificationType{lockbox.NoteRevoked, lockbox.NoteReceipt}, []lockbox.NotificationType{ns[0].Type, ns[1].Type})
		assert.Equal(t, revoked.RequestID, ns[1].Request.RequestID)
		assert.Equal(t, lockbox.Actor{Kind: lockbox.ActorApprover, ID: "carol"}, ns[1].Actor, "the receipt names who ended the grant")
		assert.Equal(t, "reason of carol", ns[1].Reason)
		assert.Equal(t, now.UnixMilli(), ns[1].Time.UnixMilli())
		require.NoError(t, b.rdb.Del(ctx, outbox).Err())

		if b.mini != nil {
			b.mini.FastForward(400 * time.Millisecond)
		} else {
			time.Sleep(time.Until(now.Add(400 * time.Millisecond)))
		}
		res, err := s.Sweep(ctx, ten, now.Add(400*time.Millisecond))
		require.NoError(t, err)
		assert.Equal(t, lockbox.SweepResult{Expired: 1, Completed: 1}, res)
		ns, err = s.Outbox(ctx, ten, 10)
		require.NoError(t, err)
		got := map[string][]lockbox.NotificationType{}
		for _, n := range ns {
			got[n.Request.RequestID] = append(got[n.Request.RequestID], n.Type)
			assert.Equal(t, lockbox.Actor{Kind: lockbox.ActorSystem, ID: lockbox.SystemActor}, n.Actor)
		}
		assert.Equal(t, map[string][]lockbox.NotificationType{
			completed.RequestID: {lockbox.NoteCompleted, lockbox.NoteReceipt},
			expired.RequestID:   {lockbox.NoteExpired},
		}, got, "the completion's receipt, and none for the window that ran out")
		_, err = s.Sweep(ctx, ten, now.Add(time.Second))
		require.NoError(t, err)
		assert.Len(t, notes(t, s, ten), 3, "a second sweep records no second receipt")
	})
}

// Reminders fall due before the window closes and the escalation after the
// filing, while the request waits; the grant's end notice 30 minutes before
// it ends; a decision drops the reminders still to come.
func TestTimers(t *testing.T) {
	b := miniBackend(t)
	lim := lockbox.Limits{PendingTTL: 96 * time.Hour, AccessTTL: 8 * time.Hour, MaxAccessTTL: 24 * time.Hour}
	s := redisstore.New(b.rdb, lim)
	ten := tenant(t)
	set := lockbox.DefaultSettings(true) // reminders 24h and 2h before the end
	set.Escalation = &lockbox.Escalation{After: "48h", Contacts: []lockbox.Contact{{ID: "sec", Email: "sec@contoso.example"}}}
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	_, err := s.PutSettings(ctx, ten, set, 0, lockbox.Actor{Kind: lockbox.ActorAdmin, ID: "ada"}, "test", start)
	require.NoError(t, err)
	waiting := file(t, s, ten, "eng-1", start)
	decided := file(t, s, ten, "eng-2", start)
	require.NoError(t, b.rdb.Del(ctx, "lb:{"+ten+"}:outbox").Err()) // the two creates: not what this test is about

	fire := func(at time.Duration) []lockbox.NotificationType {
		t.Helper()
		_, err := s.FireTimers(ctx, ten, start.Add(at), 100)
		require.NoError(t, err)
		got := notes(t, s, ten)
		require.NoError(t, b.rdb.Del(ctx, "lb:{"+ten+"}:outbox").Err())
		return got
	}
	assert.Empty(t, fire(47*time.Hour))
	assert.Equal(t, []lockbox.NotificationType{lockbox.NoteEscalated, lockbox.NoteEscalated}, fire(48*time.Hour), "both wait: both escalate")
	_, err = s.Act(ctx, ten, decided.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, start.Add(49*time.Hour)))
	require.NoError(t, err)
	require.NoError(t, b.rdb.Del(ctx, "lb:{"+ten+"}:outbox").Err())
	assert.Equal(t, []lockbox.NotificationType{lockbox.NoteEnding}, fire(56*time.Hour+30*time.Minute), "the grant of 49h+8h ends in 30 minutes")
	assert.Equal(t, []lockbox.NotificationType{lockbox.NoteReminder}, fire(72*time.Hour), "only the waiting one is reminded")
	assert.Equal(t, []lockbox.NotificationType{lockbox.NoteReminder}, fire(94*time.Hour))
	assert.Empty(t, fire(200*time.Hour), "nothing fires twice")
	_ = waiting
}

// Deliveries: expansion is idempotent and drops the notification; a claimed
// delivery is nobody else's until its lease ends; results move it to sent,
// retrying (due again later) or failed (dead-lettered).
func TestDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.New(b.rdb, lockbox.DefaultLimits)
		ten := tenant(t)
		now := time.Now().Truncate(time.Millisecond)
		r := file(t, s, ten, "eng-1", now)
		ns, err := s.Outbox(ctx, ten, 10)
		require.NoError(t, err)
		require.Len(t, ns, 1)
		ds := []lockbox.Delivery{{ID: "d-mail", Channel: lockbox.ChannelMail, Target: "alice@contoso.example"},
			{ID: "d-hook", Channel: lockbox.ChannelWebhook, Target: "soc"}}
		require.NoError(t, s.Expand(ctx, ns[0], ds, now))
		require.NoError(t, s.Expand(ctx, ns[0], ds, now.Add(time.Second)), "expanding again changes nothing")
		assert.Empty(t, notes(t, s, ten))

		// Two runs claim at once: each delivery goes to one of them.
		var wg sync.WaitGroup
		claimed := make([][]lockbox.Delivery, 2)
		for i := range claimed {
			wg.Go(func() {
				var err error
				claimed[i], err = s.Claim(ctx, ten, now, time.Minute, 10)
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Len(t, append(claimed[0], claimed[1]...), 2)
		again, err := s.Claim(ctx, ten, now.Add(59*time.Second), time.Minute, 10)
		require.NoError(t, err)
		assert.Empty(t, again, "leased")

		all := append(claimed[0], claimed[1]...)
		var mail, hook lockbox.Delivery
		for _, d := range all {
			if d.Channel == lockbox.ChannelMail {
				mail = d
			} else {
				hook = d
			}
		}
		assert.Equal(t, lockbox.NoteCreated, mail.Notification.Type)
		assert.Equal(t, r.RequestID, mail.Notification.Request.RequestID)
		assert.Equal(t, "alice@contoso.example", mail.Target)
		require.NoError(t, s.Delivered(ctx, ten, mail.ID, now))
		require.NoError(t, s.Failed(ctx, ten, hook.ID, now, "503 Service Unavailable", now.Add(30*time.Second)))

		// The lease of a run that died runs out: its delivery is claimed again.
		later, err := s.Claim(ctx, ten, now.Add(31*time.Second), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, later, 1)
		assert.Equal(t, hook.ID, later[0].ID)
		assert.Equal(t, 1, later[0].Attempts)
		require.NoError(t, s.Failed(ctx, ten, hook.ID, now.Add(31*time.Second), "400 Bad Request", time.Time{}))
		require.NoError(t, s.Delivered(ctx, ten, hook.ID, now.Add(32*time.Second)), "a late result of a dead lease is ignored")

		got, err := s.Deliveries(ctx, ten, r.RequestID)
		require.NoError(t, err)
		require.Len(t, got, 2)
		states := map[string]lockbox.DeliveryState{}
		for _, d := range got {
			states[d.Channel] = d.State
		}
		assert.Equal(t, map[string]lockbox.DeliveryState{lockbox.ChannelMail: lockbox.DeliverySent, lockbox.ChannelWebhook: lockbox.DeliveryFailed}, states)
		dead, err := s.DeadLetters(ctx, ten)
		require.NoError(t, err)
		assert.EqualValues(t, 1, dead)
		none, err := s.Claim(ctx, ten, now.Add(time.Hour), time.Minute, 10)
		require.NoError(t, err)
		assert.Empty(t, none)

		// Finished deliveries drop the request they carried and are kept
		// for DeliveryRetention, then Redis drops them.
		for _, id := range []string{mail.ID, hook.ID} {
			key := "lb:{" + ten + "}:dlv:" + id
			assert.False(t, b.rdb.HExists(ctx, key, "snap").Val(), "a finished delivery keeps no copy of the request")
			ttl := b.rdb.PTTL(ctx, key).Val()
			assert.InDelta(t, redisstore.DeliveryRetention.Seconds(), ttl.Seconds(), 60, "kept for DeliveryRetention")
		}
		if b.mini != nil {
			b.mini.FastForward(redisstore.DeliveryRetention + time.Second)
			got, err = s.Deliveries(ctx, ten, r.RequestID)
			require.NoError(t, err)
			assert.Empty(t, got, "gone after DeliveryRetention")
		}
	})
}
