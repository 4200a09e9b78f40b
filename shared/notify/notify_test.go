package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/app/notifyapp"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/lockbox/lockboxtest"
	"lockbox.dev/shared/mail/mailtest"
	"lockbox.dev/shared/notify"
	"lockbox.dev/shared/redisstore"
)

const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is a real webhook receiver that verifies every delivery with the
// Standard Webhooks reference library and answers with status.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	status int
	delay  time.Duration
}

type delivery struct {
	ID   string
	Type string `json:"type"`
	Data lockbox.Request
}

func newReceiver(t *testing.T) *receiver {
	wh, err := standardwebhooks.NewWebhook(hookSecret)
	require.NoError(t, err)
	r := &receiver{status: http.StatusNoContent}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := wh.Verify(body, req.Header); err != nil {
			t.Errorf("delivery does not verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var d delivery
		require.NoError(t, json.Unmarshal(body, &d))
		d.ID = req.Header.Get("webhook-id")
		r.mu.Lock()
		status, delay := r.status, r.delay
		if status < 300 {
			r.got = append(r.got, d)
		}
		r.mu.Unlock()
		time.Sleep(delay)
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func (r *receiver) answer(status int, delay time.Duration) {
	r.mu.Lock()
	r.status, r.delay = status, delay
	r.mu.Unlock()
}

// world is one test's Lockbox with a real SMTP server and a real webhook
// receiver, wired as lockbox-notify is (notifyapp.Job).
type world struct {
	e    *apitest.Env
	smtp *mailtest.Server
	hook *receiver
	job  *notify.Job
}

func setup(t *testing.T) *world {
	w := &world{e: apitest.New(t), smtp: mailtest.Start(t), hook: newReceiver(t)}
	cfg := config.Config{WebhookAllowPrivate: true, Notify: config.Notify{SMTPURL: w.smtp.URL(), MailFrom: "Lockbox <lockbox@provider.example>",
		PortalURL: "https://lockbox.example/portal"}}
	job, err := notifyapp.Job(w.e.Store, cfg)
	require.NoError(t, err)
	job.Now = func() time.Time { return w.e.Now }
	job.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	w.job = job
	w.e.Configure("contoso", func(s *lockbox.Settings) {
		s.Approvers = []lockbox.Approver{
			{ID: "alice", Email: "alice@contoso.example", AlternateEmail: "ALICE@Contoso.example", DisplayName: "Alice Approver"}, // the same address: one mail
			{ID: "bob", Email: "bob@contoso.example", AlternateEmail: "oncall@contoso.example"},
		}
		s.Webhooks = []lockbox.Webhook{{ID: "soc", URL: w.hook.URL + "/lockbox", Format: lockbox.FormatStandard, Secret: hookSecret}}
	})
	return w
}

// file files a request for eng-7, who gives an email address.
func (w *world) file(t *testing.T) lockbox.Request {
	t.Helper()
	in := apitest.CreateInput("contoso", "eng-7")
	in.Requester.Email = "eng7@provider.example"
	r := lockbox.NewRequest(in, lockbox.NewID(), w.e.Now, w.e.Store.Limits())
	r.FiledBy = lockbox.Principal{Kind: lockbox.KindService, Subject: "webhook"}.Key()
	r, _, err := w.e.Store.Create(t.Context(), r, lockbox.CreateOptions{})
	require.NoError(t, err)
	return r
}

func (w *world) run(t *testing.T) notify.Summary {
	t.Helper()
	s := w.job.Run(t.Context(), "contoso")
	require.Empty(t, s.Errors)
	return s
}

func to(ms []mailtest.Mail) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.To...)
	}
	return out
}

// A new request reaches each approver address once and the tenant's
// webhook; its approval reaches the requester and the webhook; nothing is
// sent twice.
func TestNotifies(t *testing.T) {
	w := setup(t)
	r := w.file(t)
	s := w.run(t)
	assert.Equal(t, 1, s.Expanded)
	assert.Equal(t, 4, s.Sent, "three mails and a webhook")
	mails := w.smtp.Mails()
	assert.ElementsMatch(t, []string{"alice@contoso.example", "bob@contoso.example", "oncall@contoso.example"}, to(mails))
	for _, m := range mails {
		assert.Equal(t, "[contoso] INC-1001: access request awaiting your approval", m.Subject)
		assert.Contains(t, m.Decoded, "https://lockbox.example/portal/requests/"+r.RequestID)
		if m.To[0] == "alice@contoso.example" {
			assert.Contains(t, m.Decoded, `To: "Alice Approver" <alice@contoso.example>`, "addressed by name")
			assert.Contains(t, m.Decoded, "Hello Alice Approver,")
		} else {
			assert.Contains(t, m.Decoded, "Hello "+m.To[0]+",")
		}
	}
	hooks := w.hook.deliveries()
	require.Len(t, hooks, 1)
	assert.Equal(t, "lockbox.request.created", hooks[0].Type)
	assert.Equal(t, r.RequestID, hooks[0].Data.RequestID)

	_, err := w.e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, w.e.Now))
	require.NoError(t, err)
	s = w.run(t)
	assert.Equal(t, 2, s.Sent)
	mails = w.smtp.Mails()[3:]
	require.Len(t, mails, 1)
	assert.Equal(t, []string{"eng7@provider.example"}, mails[0].To)
	assert.Equal(t, "[contoso] INC-1001: access approved", mails[0].Subject)
	hooks = w.hook.deliveries()
	require.Len(t, hooks, 2)
	assert.Equal(t, "lockbox.request.approved", hooks[1].Type)
	assert.Equal(t, lockbox.StatusApproved, hooks[1].Data.Status)

	assert.Zero(t, w.run(t).Sent, "nothing is sent twice")
	assert.Len(t, w.smtp.Mails(), 4)

	// Each delivery's state is kept on the request.
	ds, err := w.e.Store.Deliveries(t.Context(), "contoso", r.RequestID)
	require.NoError(t, err)
	require.Len(t, ds, 6)
	for _, v := range notify.Views(ds) {
		assert.Equal(t, lockbox.DeliverySent, v.State)
		assert.NotContains(t, v.Recipient, "alice@", "addresses are masked")
	}
}

// The SMTP server is down: nothing is lost; once it is back (and the
// backoff passed) every mail goes out once.
func TestSMTPDownThenUp(t *testing.T) {
	w := setup(t)
	w.smtp.Stop()
	w.file(t)
	s := w.run(t)
	assert.Equal(t, 3, s.Retrying)
	assert.Equal(t, 1, s.Sent, "the webhook went")
	w.smtp.Restart(t)
	assert.Zero(t, w.run(t).Sent, "not before the backoff")
	w.e.Advance(31 * time.Second)
	assert.Equal(t, 3, w.run(t).Sent)
	w.e.Advance(time.Hour)
	assert.Zero(t, w.run(t).Sent)
	assert.Len(t, w.smtp.Mails(), 3)
}

// A run dies between sending and recording that it sent: once its lease
// runs out, the next run sends again, with the same Message-ID and
// webhook-id, so the receivers can tell.
func TestCrashBetweenSendAndRecord(t *testing.T) {
	w := setup(t)
	w.file(t)
	w.job.Store = crashingStore{w.e.Store}
	w.job.Run(t.Context(), "contoso")
	first := w.smtp.Mails()
	require.Len(t, first, 3)
	require.Len(t, w.hook.deliveries(), 1)

	w.job.Store = w.e.Store
	assert.Zero(t, w.run(t).Sent, "leased: nobody sends meanwhile")
	w.e.Advance(time.Minute + time.Second)
	assert.Equal(t, 4, w.run(t).Sent)
	again := w.smtp.Mails()[3:]
	require.Len(t, again, 3)
	ids := func(ms []mailtest.Mail) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			out[m.To[0]] = m.MessageID
		}
		return out
	}
	assert.Equal(t, ids(first), ids(again), "the same Message-ID per recipient")
	hooks := w.hook.deliveries()
	require.Len(t, hooks, 2)
	assert.Equal(t, hooks[0].ID, hooks[1].ID, "the same webhook-id")
}

// crashingStore never records that a delivery was sent, as a run that dies
// right after sending each.
type crashingStore struct{ *redisstore.Store }

func (crashingStore) Delivered(context.Context, string, string, time.Time) error { return nil }

// A webhook answering 500 or timing out is retried; one redirecting or
// answering 400 is not, and is dead-lettered; one failing for a day is
// dead-lettered too.
func TestWebhookFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		delay  time.Duration
		retry  bool
	}{
		{"500", http.StatusInternalServerError, 0, true},
		{"timeout", http.StatusNoContent, 6 * time.Second, true},
		{"redirect", http.StatusFound, 0, false},
		{"400", http.StatusBadRequest, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.delay > 0 && testing.Short() {
				t.Skip("waits for the 5-second timeout")
			}
			w := setup(t)
			w.hook.answer(c.status, c.delay)
			r := w.file(t)
			s := w.run(t)
			if c.retry {
				assert.Equal(t, 1, s.Retrying)
			} else {
				assert.Equal(t, 1, s.Failed)
			}
			ds, err := w.e.Store.Deliveries(t.Context(), "contoso", r.RequestID)
			require.NoError(t, err)
			for _, d := range ds {
				if d.Channel == lockbox.ChannelWebhook {
					assert.NotEmpty(t, d.LastError)
					assert.NotContains(t, d.LastError, hookSecret)
					if c.retry {
						assert.Equal(t, lockbox.DeliveryRetrying, d.State)
					} else {
						assert.Equal(t, lockbox.DeliveryFailed, d.State)
					}
				}
			}
		})
	}
	t.Run("a day of failures", func(t *testing.T) {
		w := setup(t)
		w.hook.answer(http.StatusServiceUnavailable, 0)
		w.file(t)
		w.run(t)
		failed := 0
		for range 40 {
			w.e.Advance(time.Hour)
			failed += w.run(t).Failed
		}
		assert.Equal(t, 1, failed, "dead-lettered after 24 hours")
		dead, err := w.e.Store.DeadLetters(t.Context(), "contoso")
		require.NoError(t, err)
		assert.EqualValues(t, 1, dead)
	})
}

// Two runs at once send every delivery once.
func TestConcurrentRuns(t *testing.T) {
	w := setup(t)
	for range 5 {
		w.file(t)
	}
	var wg sync.WaitGroup
	sent := make([]int, 4)
	for i := range sent {
		wg.Go(func() { sent[i] = w.job.Run(t.Context(), "contoso").Sent })
	}
	wg.Wait()
	total := 0
	for _, n := range sent {
		total += n
	}
	assert.Equal(t, 20, total)
	seen := map[string]int{}
	for _, m := range w.smtp.Mails() {
		seen[m.MessageID]++
	}
	assert.Len(t, seen, 15)
	for id, n := range seen {
		assert.Equal(t, 1, n, "mail %s sent %d times", id, n)
	}
	assert.Len(t, w.hook.deliveries(), 5)
}

// Reminders, escalation, the grant's end notice, automatic decisions and
// quorum steps go to whom they concern.
func TestWhoHearsWhat(t *testing.T) {
	w := setup(t)
	w.e.Configure("contoso", func(s *lockbox.Settings) {
		s.RequiredApprovals = 2
		s.Escalation = &lockbox.Escalation{After: "48h", Contacts: []lockbox.Contact{{ID: "sec", Email: "security@contoso.example"}}}
		s.Webhooks = nil
	})
	r := w.file(t)
	w.run(t)
	subjects := func() map[string][]string {
		out := map[string][]string{}
		for _, m := range w.smtp.Mails() {
			out[m.Subject] = append(out[m.Subject], m.To...)
		}
		return out
	}
	_, err := w.e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, w.e.Now))
	require.NoError(t, err)
	w.e.Advance(48 * time.Hour)
	w.run(t)
	got := subjects()
	assert.ElementsMatch(t, []string{"alice@contoso.example", "bob@contoso.example", "oncall@contoso.example"},
		got["[contoso] INC-1001: 1 of 2 approvals, access request awaiting 1 more"])
	assert.Equal(t, []string{"security@contoso.example"}, got["[contoso] INC-1001: escalation: access request still undecided"])
	w.e.Advance(46 * time.Hour)
	w.run(t)
	assert.Len(t, subjects()["[contoso] INC-1001: access request awaiting approval, closes in 2 hours"], 3)
	reminders := 0
	for subject, to := range subjects() {
		if strings.Contains(subject, "awaiting approval, closes in") {
			reminders += len(to)
		}
	}
	assert.Equal(t, 3, reminders, "the 24h reminder, overtaken by the 2h one while notify was down, is not sent")
	_, err = w.e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "bob", "ok", nil, w.e.Now))
	require.NoError(t, err)
	w.e.Advance(7*time.Hour + 30*time.Minute)
	w.run(t)
	got = subjects()
	assert.Equal(t, []string{"eng7@provider.example"}, got["[contoso] INC-1001: access approved"])
	assert.Equal(t, []string{"eng7@provider.example"}, got["[contoso] INC-1001: your access ends in 30 minutes"])
}

// barrierMailer holds every mail until want are being sent at once (or a
// while has passed), and records the most it saw at once.
type barrierMailer struct {
	want    int
	mu      sync.Mutex
	cur, hi int
	all     chan struct{}
}

func (b *barrierMailer) Mail(ctx context.Context, _ lockbox.Notification, _, _ string) error {
	b.mu.Lock()
	b.cur++
	b.hi = max(b.hi, b.cur)
	if b.cur == b.want {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	b.mu.Lock()
	b.cur--
	b.mu.Unlock()
	return nil
}

// One tenant's deliveries go out side by side (Senders at once): a tenant
// of many approvers does not wait for each mail in turn.
func TestOneTenantSendsSideBySide(t *testing.T) {
	w := setup(t)
	var approvers []lockbox.Approver
	for i := range notify.Senders {
		approvers = append(approvers, lockbox.Approver{ID: fmt.Sprintf("a%d", i), Email: fmt.Sprintf("a%d@contoso.example", i)})
	}
	w.e.Configure("contoso", func(s *lockbox.Settings) { s.Approvers, s.Webhooks = approvers, nil })
	m := &barrierMailer{want: notify.Senders, all: make(chan struct{})}
	w.job.Mailer = m
	w.file(t)
	s := w.run(t)
	assert.Equal(t, notify.Senders, s.Sent)
	assert.Equal(t, notify.Senders, m.hi, "mails sent at once")
}

// receipts are the mails of the access receipt, by recipient.
func (w *world) receipts(t *testing.T) map[string]mailtest.Mail {
	t.Helper()
	out := map[string]mailtest.Mail{}
	for _, m := range w.smtp.Mails() {
		if strings.Contains(m.Subject, "access receipt") {
			require.Len(t, m.To, 1)
			_, dup := out[m.To[0]]
			assert.False(t, dup, "one receipt for %s", m.To[0])
			out[m.To[0]] = m
		}
	}
	return out
}

// everyone are the receipt's recipients in setup's tenant: the approvers'
// addresses (alice's two are one) and the requester's.
var everyone = []string{"alice@contoso.example", "bob@contoso.example", "oncall@contoso.example", "eng7@provider.example"}

// A revoked grant: its approvers and the requester each receive one
// receipt naming each resource used with its checks and first and last
// use, the credentials issued, and the one not used.
func TestReceiptOfARevokedGrant(t *testing.T) {
	w := setup(t)
	r := w.file(t)
	_, err := w.e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, w.e.Now))
	require.NoError(t, err)
	w.run(t)
	first := w.e.Now
	for range 3 {
		got, err := w.e.Store.Check(t.Context(), "contoso", "eng-7", lockbox.CheckInput{TenantID: "contoso", ResourceID: "vm-2",
			AccessLevel: "Read", Method: "GET", URI: "/metrics"}, w.e.Now)
		require.NoError(t, err)
		require.True(t, got.Allowed)
		w.e.Advance(25 * time.Minute)
	}
	_, err = w.e.Store.IssueCredential(t.Context(), "contoso", r.RequestID, "eng-7", lockbox.Credential{Serial: 7, Fingerprint: "SHA256:x"}, w.e.Now)
	require.NoError(t, err)
	revoke := lockboxtest.Decision(lockbox.ActionRevoke, "bob", "the case is closed", nil, w.e.Now)
	_, err = w.e.Store.Act(t.Context(), "contoso", r.RequestID, revoke)
	require.NoError(t, err)
	assert.Zero(t, len(w.receipts(t)), "nothing before the run")
	w.run(t)

	got := w.receipts(t)
	assert.ElementsMatch(t, everyone, keys(got))
	for to, m := range got {
		assert.Equal(t, "[contoso] INC-1001: access receipt", m.Subject, to)
		for _, want := range []string{
			"revoked by bob",
			"vm-2\r\n    3 checks, first " + first.UTC().Format("Mon 2006-01-02 15:04 MST") + ", last " +
				first.Add(50*time.Minute).UTC().Format("Mon 2006-01-02 15:04 MST"),
			"vm-1\r\n    not used",
			"Credentials issued: 1 SSH certificate",
			"3 access checks on 1 of its 2 resources and 1 SSH certificate issued",
			"the case is closed",
		} {
			assert.Contains(t, m.Decoded, want, "the receipt to %s", to)
		}
	}
	assert.Contains(t, got["eng7@provider.example"].Decoded, "Your grant for Read access")
	assert.Contains(t, got["bob@contoso.example"].Decoded, "The grant of Support Engineer (eng-7) for Read access")

	// The tenant's webhook: lockbox.request.receipt, the request with its
	// usage.
	var hook *delivery
	for _, d := range w.hook.deliveries() {
		if d.Type == "lockbox.request.receipt" {
			require.Nil(t, hook, "one receipt delivery")
			hook = &d
		}
	}
	require.NotNil(t, hook, "the webhook got the receipt")
	assert.Equal(t, lockbox.StatusRevoked, hook.Data.Status)
	require.NotNil(t, hook.Data.Usage)
	assert.Equal(t, 3, hook.Data.Usage.Checks)
	assert.Equal(t, 1, hook.Data.Usage.Credentials)
	require.Len(t, hook.Data.Usage.Resources, 1)
	assert.Equal(t, "vm-2", hook.Data.Usage.Resources[0].ResourceID)

	w.run(t)
	assert.Len(t, w.receipts(t), 4, "nothing is sent twice")
}

// A grant whose hours ran out: the sweep's completion sends the same
// receipts; one never used says so.
func TestReceiptOfACompletedGrant(t *testing.T) {
	for _, used := range []bool{true, false} {
		t.Run(fmt.Sprintf("used=%v", used), func(t *testing.T) {
			w := setup(t)
			r := w.file(t)
			_, err := w.e.Store.Act(t.Context(), "contoso", r.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", lockboxtest.Hours(1), w.e.Now))
			require.NoError(t, err)
			if used {
				_, err := w.e.Store.Check(t.Context(), "contoso", "eng-7", lockbox.CheckInput{TenantID: "contoso", ResourceID: "vm-1",
					AccessLevel: "Read"}, w.e.Now)
				require.NoError(t, err)
			}
			w.e.Advance(time.Hour)
			w.run(t)
			assert.Empty(t, w.receipts(t), "the grant ended, but the sweep has not recorded it")
			res, err := w.e.Store.Sweep(t.Context(), "contoso", w.e.Now)
			require.NoError(t, err)
			require.Equal(t, 1, res.Completed)
			w.run(t)

			got := w.receipts(t)
			assert.ElementsMatch(t, everyone, keys(got))
			for to, m := range got {
				assert.Contains(t, m.Decoded, "as its hours ran out", to)
				if used {
					assert.Equal(t, "[contoso] INC-1001: access receipt", m.Subject, to)
					assert.Contains(t, m.Decoded, "vm-1\r\n    1 check, at ", to)
					assert.Contains(t, m.Decoded, "vm-2\r\n    not used", to)
					assert.Contains(t, m.Decoded, "Credentials issued: none", to)
				} else {
					assert.Equal(t, "[contoso] INC-1001: access receipt, grant not used", m.Subject, to)
					assert.Contains(t, m.Decoded, "It was not used.", to)
					assert.Contains(t, m.Decoded, "No check allowed access to any of its resources, and no credential was issued.", to)
					assert.Contains(t, m.Decoded, "vm-1, vm-2", to)
				}
			}
		})
	}
}

// keys are m's keys.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A lockdown tells the approvers (one mail each), the tenant's webhooks
// and the provider-wide webhook ("lockbox.tenant.lockdown"), the engineer
// whose grant it revoked (the revocation and the receipt) and the engineer
// whose request it canceled; the lift tells the approvers and webhooks.
func TestNotifiesLockdown(t *testing.T) {
	w := setup(t)
	provider := newReceiver(t)
	w.job.Provider = &lockbox.Webhook{ID: lockbox.ProviderWebhook, URL: provider.URL + "/provider", Format: lockbox.FormatStandard,
		Secret: hookSecret}
	live := w.file(t)
	_, err := w.e.Store.Act(t.Context(), "contoso", live.RequestID, lockboxtest.Decision(lockbox.ActionApprove, "alice", "ok", nil, w.e.Now))
	require.NoError(t, err)
	in := apitest.CreateInput("contoso", "eng-8")
	in.Requester.Email = "eng8@provider.example"
	waiting := lockbox.NewRequest(in, lockbox.NewID(), w.e.Now, w.e.Store.Limits())
	waiting.FiledBy = lockbox.Principal{Kind: lockbox.KindService, Subject: "webhook"}.Key()
	_, _, err = w.e.Store.Create(t.Context(), waiting, lockbox.CreateOptions{})
	require.NoError(t, err)
	w.run(t)
	sentBefore, hooksBefore, providerBefore := len(w.smtp.Mails()), len(w.hook.deliveries()), len(provider.deliveries())

	until := w.e.Now.Add(24 * time.Hour)
	_, err = w.e.Cases.Lockdown(t.Context(), lockbox.Principal{Kind: lockbox.KindUser, Subject: "ada", TenantID: "contoso",
		Roles: []lockbox.Role{lockbox.RoleAdmin}}, lockbox.LockdownBody{Until: until.Format(time.RFC3339), Reason: "credential leak, INC-2040"})
	require.NoError(t, err)
	w.run(t)

	got := map[string][]string{} // subject → recipients
	for _, m := range w.smtp.Mails()[sentBefore:] {
		got[m.Subject] = append(got[m.Subject], m.To...)
		if m.Subject == "[contoso] tenant locked down: all provider access stopped" {
			assert.Contains(t, m.Decoded, "credential leak, INC-2040 (until "+until.UTC().Format(time.RFC3339)+")")
			assert.Contains(t, m.Decoded, "https://lockbox.example/portal/settings")
		}
		if m.Subject == "[contoso] INC-1001: access request canceled" {
			assert.Contains(t, m.Decoded, "locked the tenant down")
			assert.Contains(t, m.Decoded, "because you are the engineer named")
		}
	}
	assert.ElementsMatch(t, []string{"alice@contoso.example", "bob@contoso.example", "oncall@contoso.example"},
		got["[contoso] tenant locked down: all provider access stopped"])
	assert.Equal(t, []string{"eng8@provider.example"}, got["[contoso] INC-1001: access request canceled"], "the requester, not the approvers")
	assert.Equal(t, []string{"eng7@provider.example"}, got["[contoso] INC-1001: access revoked"])
	assert.ElementsMatch(t, []string{"alice@contoso.example", "bob@contoso.example", "oncall@contoso.example", "eng7@provider.example"},
		got["[contoso] INC-1001: access receipt, grant not used"])

	types := func(ds []delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Type)
		}
		return out
	}
	want := []string{"lockbox.request.canceled", "lockbox.request.revoked", "lockbox.request.receipt", "lockbox.tenant.lockdown"}
	assert.ElementsMatch(t, want, types(w.hook.deliveries()[hooksBefore:]))
	assert.ElementsMatch(t, want, types(provider.deliveries()[providerBefore:]))

	sentBefore, providerBefore = len(w.smtp.Mails()), len(provider.deliveries())
	_, err = w.e.Cases.LiftLockdown(t.Context(), lockbox.Principal{Kind: lockbox.KindUser, Subject: "ada", TenantID: "contoso",
		Roles: []lockbox.Role{lockbox.RoleAdmin}}, lockbox.LiftInput{Reason: "contained"})
	require.NoError(t, err)
	w.run(t)
	lifted := w.smtp.Mails()[sentBefore:]
	assert.ElementsMatch(t, []string{"alice@contoso.example", "bob@contoso.example", "oncall@contoso.example"}, to(lifted))
	assert.Equal(t, "[contoso] tenant lockdown lifted", lifted[0].Subject)
	assert.Equal(t, []string{"lockbox.tenant.lockdownLifted"}, types(provider.deliveries()[providerBefore:]))
}

// Who hears of emergency access (break-glass), and when: the filing pages
// the provider's approvers (the provider-wide webhook alone: no mail, not
// the tenant's webhooks); going live tells the approvers and escalation
// contacts by mail and both webhooks; a dispute goes to the approvers and
// both webhooks; left unreviewed for review_ttl, it is escalated.
func TestNotifiesEmergency(t *testing.T) {
	w := setup(t)
	provider := newReceiver(t)
	w.job.Provider = &lockbox.Webhook{ID: lockbox.ProviderWebhook, URL: provider.URL + "/provider", Format: lockbox.FormatStandard,
		Secret: hookSecret}
	w.e.Configure("contoso", func(s *lockbox.Settings) {
		s.Escalation = &lockbox.Escalation{After: "48h", Contacts: []lockbox.Contact{{ID: "sec", Email: "security@contoso.example"}}}
	})
	w.e.Cases.Policy = &lockbox.ProviderPolicy{Rules: []lockbox.ProviderRule{{Name: "vm-emergency",
		Emergency: &lockbox.EmergencyRule{Approvals: 1, MaxDuration: 4}}}, Identity: lockbox.DefaultIdentityChecks}
	eng := lockbox.Principal{Kind: lockbox.KindUser, Subject: "eng-7", TenantID: "provider", Roles: []lockbox.Role{lockbox.RoleRequester}}
	lead := lockbox.Principal{Kind: lockbox.KindUser, Subject: "lead-1", TenantID: "provider", Roles: []lockbox.Role{lockbox.RoleProviderApprover}}
	alice := lockbox.Principal{Kind: lockbox.KindUser, Subject: "alice", TenantID: "contoso", Roles: []lockbox.Role{lockbox.RoleApprover}}
	file := func(ticket string) string {
		in := apitest.CreateInput("contoso", "eng-7")
		in.SupportRequest, in.Duration = ticket, new(2)
		in.Emergency = &lockbox.EmergencyInput{Incident: "SEV1-1", Reason: "outage"}
		filed, err := w.e.Cases.File(t.Context(), eng, in, "")
		require.NoError(t, err)
		return filed.Request.RequestID
	}
	types := func(ds []delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Type)
		}
		return out
	}
	let := func(id string) {
		_, err := w.e.Cases.Decide(t.Context(), lead, lockbox.ActionApprove, lockbox.DecisionInput{RequestID: id, TenantID: "contoso", Reason: "bridge"})
		require.NoError(t, err)
	}

	disputed, unreviewed := file("INC-1"), file("INC-2")
	w.run(t)
	assert.Empty(t, w.smtp.Mails(), "the customer hears nothing of a filing")
	assert.Empty(t, w.hook.deliveries())
	assert.Equal(t, []string{"lockbox.emergency.requested", "lockbox.emergency.requested"}, types(provider.deliveries()))

	let(disputed)
	let(unreviewed)
	w.run(t)
	granted := map[string][]string{}
	for _, m := range w.smtp.Mails() {
		granted[m.Subject] = append(granted[m.Subject], m.To...)
	}
	assert.ElementsMatch(t, []string{"alice@contoso.example", "bob@contoso.example", "oncall@contoso.example", "security@contoso.example"},
		granted["[contoso] INC-1: emergency access granted without your approval, review it"])
	assert.Equal(t, []string{"lockbox.emergency.granted", "lockbox.emergency.granted"}, types(w.hook.deliveries()))
	assert.Equal(t, []string{"lockbox.emergency.granted", "lockbox.emergency.granted"}, types(provider.deliveries()[2:]))

	mails, hooks, paged := len(w.smtp.Mails()), len(w.hook.deliveries()), len(provider.deliveries())
	_, err := w.e.Cases.ReviewEmergency(t.Context(), alice, lockbox.ReviewInput{RequestID: disputed, Verdict: "dispute", Reason: "nobody asked us"})
	require.NoError(t, err)
	w.run(t)
	assert.ElementsMatch(t, []string{"alice@contoso.example", "bob@contoso.example", "oncall@contoso.example"}, to(w.smtp.Mails()[mails:]))
	assert.Equal(t, "[contoso] INC-1: emergency access disputed", w.smtp.Mails()[mails].Subject)
	assert.Equal(t, []string{"lockbox.emergency.disputed"}, types(w.hook.deliveries()[hooks:]))
	assert.Equal(t, []string{"lockbox.emergency.disputed"}, types(provider.deliveries()[paged:]))

	mails = len(w.smtp.Mails())
	w.e.Advance(72 * time.Hour)
	w.run(t)
	var escalated []string
	for _, m := range w.smtp.Mails()[mails:] {
		if m.Subject == "[contoso] INC-2: escalation: emergency access not reviewed" {
			escalated = append(escalated, m.To...)
		}
	}
	assert.ElementsMatch(t, []string{"alice@contoso.example", "bob@contoso.example", "oncall@contoso.example", "security@contoso.example"},
		escalated, "only the unreviewed one")
}
