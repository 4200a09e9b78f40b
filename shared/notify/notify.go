// Package notify is the work of lockbox-notify: it tells people about
// requests. Every change someone must hear about is recorded with the change
// itself (the store's outbox, and timers for reminders, escalations and a
// grant's end); a run turns due timers into notifications, expands each
// notification into deliveries (one per recipient and channel: mail to
// approvers, escalation contacts or the requester; the tenant's webhooks and
// the provider's), and sends the due deliveries, each claimed under a lease
// so that two runs never send one twice and a run that dies mid-send leaves
// it to the next (sent again with the same Message-ID or webhook-id).
// Failures are retried with backoff for a day, then dead-lettered.
//
// lockbox-notify runs every minute from the cron-connector, and is nudged
// through the gateway's /async-function/ right after each change; a lost
// nudge loses nothing.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/workers"
)

// Store is what a run needs of the store (redisstore.Store implements it).
type Store interface {
	Tenants(ctx context.Context) ([]string, error)
	Get(ctx context.Context, tenant, id string) (lockbox.Request, error)
	Settings(ctx context.Context, tenant string) (lockbox.Settings, error)
	FireTimers(ctx context.Context, tenant string, now time.Time, limit int) (int, error)
	Outbox(ctx context.Context, tenant string, n int) ([]lockbox.Notification, error)
	Expand(ctx context.Context, n lockbox.Notification, deliveries []lockbox.Delivery, now time.Time) error
	Claim(ctx context.Context, tenant string, now time.Time, lease time.Duration, n int) ([]lockbox.Delivery, error)
	Delivered(ctx context.Context, tenant, id string, now time.Time) error
	Failed(ctx context.Context, tenant, id string, now time.Time, reason string, next time.Time) error
}

// Mailer sends one notification mail to one address, with the Message-ID
// given. A failure that sending again cannot fix wraps ErrPermanent.
type Mailer interface {
	Mail(ctx context.Context, n lockbox.Notification, to, messageID string) error
}

// Poster sends one notification to one webhook, with the webhook-id given.
// A failure that sending again cannot fix wraps ErrPermanent.
type Poster interface {
	Post(ctx context.Context, n lockbox.Notification, w lockbox.Webhook, id string) error
}

// ErrPermanent marks a failure that retrying cannot fix (a recipient
// refused, a 4xx answer, an address not allowed): the delivery fails at
// once.
var ErrPermanent = errors.New("permanent failure")

// RetryLater is a temporary failure whose receiver asked not to be tried
// again before After (a webhook's Retry-After).
type RetryLater struct {
	After time.Duration
	Err   error
}

func (e *RetryLater) Error() string { return e.Err.Error() }

// Unwrap returns the failure.
func (e *RetryLater) Unwrap() error { return e.Err }

// Job sends notifications.
type Job struct {
	Store  Store
	Mailer Mailer // nil: mail is not configured, and no mail is delivered
	Poster Poster
	// Provider is the provider-wide webhook (notify_webhook_url), if any.
	Provider *lockbox.Webhook
	Now      func() time.Time
	Log      *slog.Logger
	// Lease is how long a claimed delivery is left to the run that claimed
	// it; a run that dies leaves it to another after that.
	Lease time.Duration
}

// Summary is what a run did.
type Summary struct {
	Timers   int `json:"timers"`   // reminders, escalations and end notices that fell due
	Expanded int `json:"expanded"` // notifications turned into deliveries
	Sent     int `json:"sent"`
	Retrying int `json:"retrying"` // failed, tried again later
	Failed   int `json:"failed"`   // failed for good (dead-lettered)
	// Errors name the tenant and what failed (counted in Tenants failed),
	// in words safe to show; shown to operators only.
	Errors  []string  `json:"errors,omitempty"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
}

// Workers is how many tenants a run works on at once, and Senders how
// many of one tenant's deliveries it sends at once: a request filed in a
// tenant of fifty approvers reaches them side by side, not one mail after
// another.
const (
	Workers = 8
	Senders = 8
)

// batch is how many timers, notifications and deliveries one step handles.
const batch = 100

// Run delivers what is due for tenants (every tenant when none is named).
func (j *Job) Run(ctx context.Context, tenants ...string) Summary {
	start := j.Now()
	s := Summary{Started: start.UTC()}
	if len(tenants) == 0 {
		var err error
		if tenants, err = j.Store.Tenants(ctx); err != nil {
			j.Log.Error("notify run cannot list tenants", "err", err)
			s.Errors = append(s.Errors, publicMessage(err))
			return s
		}
	}
	var timers, expanded, sent, retrying, failed atomic.Int64
	var mu sync.Mutex
	workers.Each(len(tenants), Workers, func(i int) {
		t := &tenantRun{job: j, tenant: tenants[i], requests: map[string]lockbox.Request{}}
		err := t.run(ctx)
		timers.Add(int64(t.timers))
		expanded.Add(int64(t.expanded))
		sent.Add(int64(t.sent))
		retrying.Add(int64(t.retrying))
		failed.Add(int64(t.failed))
		if err != nil {
			j.Log.Error("notify run failed for a tenant", "tenantId", t.tenant, "err", err)
			mu.Lock()
			s.Errors = append(s.Errors, t.tenant+": "+publicMessage(err))
			mu.Unlock()
		}
	})
	s.Timers, s.Expanded, s.Sent = int(timers.Load()), int(expanded.Load()), int(sent.Load())
	s.Retrying, s.Failed = int(retrying.Load()), int(failed.Load())
	s.Seconds = j.Now().Sub(start).Seconds()
	return s
}

// tenantRun is one run's work for one tenant, with what it read once.
type tenantRun struct {
	job    *Job
	tenant string

	mu       sync.Mutex        // guards what follows: Senders goroutines share them
	settings *lockbox.Settings // read at most once per run
	requests map[string]lockbox.Request

	timers, expanded, sent, retrying, failed int
}

// count adds one to a counter of t.
func (t *tenantRun) count(c *int) {
	t.mu.Lock()
	*c++
	t.mu.Unlock()
}

func (t *tenantRun) run(ctx context.Context) error {
	j := t.job
	for {
		n, err := j.Store.FireTimers(ctx, t.tenant, j.Now(), batch)
		t.timers += n
		if err != nil {
			return err
		}
		if n < batch {
			break
		}
	}
	for {
		notes, err := j.Store.Outbox(ctx, t.tenant, batch)
		if err != nil {
			return err
		}
		for _, n := range notes {
			if err := t.expand(ctx, n); err != nil {
				return err
			}
		}
		if len(notes) < batch {
			break
		}
	}
	for ctx.Err() == nil {
		claimed, err := j.Store.Claim(ctx, t.tenant, j.Now(), j.lease(), batch)
		if err != nil {
			return err
		}
		errs := make([]error, len(claimed))
		workers.Each(len(claimed), Senders, func(i int) { errs[i] = t.send(ctx, claimed[i]) })
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if len(claimed) < batch {
			return nil
		}
	}
	return ctx.Err()
}

func (j *Job) lease() time.Duration {
	if j.Lease > 0 {
		return j.Lease
	}
	return time.Minute
}

// request returns the request a notification is about, as it stands now.
func (t *tenantRun) request(ctx context.Context, id string) (lockbox.Request, error) {
	t.mu.Lock()
	r, ok := t.requests[id]
	t.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := t.job.Store.Get(ctx, t.tenant, id)
	if err == nil {
		t.mu.Lock()
		t.requests[id] = r
		t.mu.Unlock()
	}
	return r, err
}

func (t *tenantRun) currentSettings(ctx context.Context) (lockbox.Settings, error) {
	t.mu.Lock()
	cached := t.settings
	t.mu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	s, err := t.job.Store.Settings(ctx, t.tenant)
	if err == nil {
		t.mu.Lock()
		t.settings = &s
		t.mu.Unlock()
	}
	return s, err
}

// expand turns one notification into its deliveries.
func (t *tenantRun) expand(ctx context.Context, n lockbox.Notification) error {
	var deliveries []lockbox.Delivery
	var r lockbox.Request
	var err error
	if !n.TenantWide() {
		r, err = t.request(ctx, n.Request.RequestID)
	} else {
		r = n.Request // the tenant's own: no request to read
	}
	switch {
	case lockbox.KindOf(err) == lockbox.KindNotFound: // nothing to tell of
	case err != nil:
		return err
	default:
		set, err := t.currentSettings(ctx)
		if err != nil {
			return err
		}
		n.Request = r
		deliveries = t.job.Deliveries(n, set)
	}
	if err := t.job.Store.Expand(ctx, n, deliveries, t.job.Now()); err != nil {
		return err
	}
	t.expanded++
	return nil
}

// Deliveries are the deliveries of n in a tenant with settings set: mail to
// the addresses MailTo names, when mail is configured; the tenant's
// webhooks subscribed to n's type, and the provider's.
func (j *Job) Deliveries(n lockbox.Notification, set lockbox.Settings) []lockbox.Delivery {
	var out []lockbox.Delivery
	add := func(channel, target string) {
		sum := sha256.Sum256([]byte(n.ID + "|" + channel + "|" + bare(target)))
		out = append(out, lockbox.Delivery{ID: hex.EncodeToString(sum[:16]), Notification: n, Channel: channel, Target: target})
	}
	if j.Mailer != nil {
		for _, to := range MailTo(n, set) {
			add(lockbox.ChannelMail, to)
		}
	}
	if n.ProviderOnly() {
		if j.Provider != nil {
			add(lockbox.ChannelWebhook, lockbox.ProviderWebhook)
		}
		return out
	}
	if slices.Contains(lockbox.NotificationTypes, string(n.Type)) {
		for _, w := range set.Webhooks {
			if len(w.Events) == 0 || slices.Contains(w.Events, string(n.Type)) {
				add(lockbox.ChannelWebhook, w.ID)
			}
		}
		if j.Provider != nil {
			add(lockbox.ChannelWebhook, lockbox.ProviderWebhook)
		}
	}
	return out
}

// MailTo are the addresses n goes to: the approvers (primary and alternate)
// of a new, waiting, withdrawn or partly approved request, of automatic
// decisions and of a lockdown and its lift; the requester of a request a
// lockdown canceled; the escalation contacts of an escalation; the approvers
// and escalation contacts of emergency access gone live or not reviewed in
// time, the approvers of one disputed; the requester of
// what became of their request; the approvers and the requester of a
// grant's access receipt. Each address once, compared without case.
func MailTo(n lockbox.Notification, set lockbox.Settings) []string {
	var to []string
	approvers := func() {
		for _, a := range set.Approvers {
			to = append(to, named(a.DisplayName, a.Email), named(a.DisplayName, a.AlternateEmail))
		}
	}
	requester := func() { to = append(to, n.Request.Requester.Email) }
	escalation := func() {
		if set.Escalation != nil {
			for _, c := range set.Escalation.Contacts {
				to = append(to, c.Email)
			}
		}
	}
	switch n.Type {
	case lockbox.NoteCanceled:
		if n.ByLockdown() {
			requester()
		} else {
			approvers()
		}
	case lockbox.NoteCreated, lockbox.NoteReminder, lockbox.NoteApproval, lockbox.NoteLockdown, lockbox.NoteLockdownLifted:
		approvers()
	case lockbox.NoteEscalated:
		escalation()
	case lockbox.NoteEmergency, lockbox.NoteEmergencyUnreviewed:
		approvers()
		escalation()
	case lockbox.NoteEmergencyDisputed:
		approvers()
	case lockbox.NoteApproved, lockbox.NoteDenied:
		if n.Auto() {
			approvers()
		}
		requester()
	case lockbox.NoteExpired, lockbox.NoteCompleted, lockbox.NoteRevoked, lockbox.NoteEnding:
		requester()
	case lockbox.NoteReceipt:
		approvers()
		requester()
	}
	return distinct(to)
}

// named is addr with the display name, "Alice <alice@contoso.example>", so
// that the mail greets its reader by name; addr alone without one.
func named(name, addr string) string {
	if name == "" || addr == "" {
		return addr
	}
	return (&netmail.Address{Name: name, Address: addr}).String()
}

// bare is the address of a, without display name, in lower case.
func bare(a string) string {
	if p, err := netmail.ParseAddress(a); err == nil {
		a = p.Address
	}
	return strings.ToLower(a)
}

// distinct drops empty addresses and repeats (compared by the bare address,
// without case), keeping the first spelling.
func distinct(addrs []string) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if a != "" && !slices.ContainsFunc(out, func(b string) bool { return bare(a) == bare(b) }) {
			out = append(out, a)
		}
	}
	return out
}

// send makes one attempt at a claimed delivery and records its outcome.
func (t *tenantRun) send(ctx context.Context, d lockbox.Delivery) error {
	j := t.job
	err := t.attempt(ctx, d)
	now := j.Now()
	if err == nil {
		t.count(&t.sent)
		return j.Store.Delivered(ctx, t.tenant, d.ID, now)
	}
	var next time.Time
	if !errors.Is(err, ErrPermanent) && now.Sub(d.Created) < lockbox.RetryFor {
		wait := lockbox.Backoff(d.Attempts + 1)
		var later *RetryLater
		if errors.As(err, &later) {
			wait = max(wait, later.After)
		}
		next = now.Add(wait)
		t.count(&t.retrying)
	} else {
		t.count(&t.failed)
	}
	j.Log.Warn("notification not delivered", "tenantId", t.tenant, "delivery", d.ID, "channel", d.Channel, "attempt", d.Attempts+1,
		"retry", !next.IsZero(), "err", err)
	return j.Store.Failed(ctx, t.tenant, d.ID, now, err.Error(), next)
}

// attempt sends d once, about the request as it stood when d was made.
func (t *tenantRun) attempt(ctx context.Context, d lockbox.Delivery) error {
	n := d.Notification
	if n.Request.Status == "" && !n.TenantWide() { // a delivery kept without its request: read it now
		r, err := t.request(ctx, n.Request.RequestID)
		if err != nil {
			if lockbox.KindOf(err) == lockbox.KindNotFound {
				return errors.Join(ErrPermanent, errors.New("the request no longer exists"))
			}
			return err
		}
		n.Request = r
	}
	switch d.Channel {
	case lockbox.ChannelMail:
		if t.job.Mailer == nil {
			return errors.Join(ErrPermanent, errors.New("mail is not configured (smtp_url)"))
		}
		return t.job.Mailer.Mail(ctx, n, d.Target, d.ID+"@lockbox")
	case lockbox.ChannelWebhook:
		w, err := t.webhook(ctx, d.Target)
		if err != nil {
			return err
		}
		return t.job.Poster.Post(ctx, n, w, "msg_"+d.ID)
	}
	return errors.Join(ErrPermanent, errors.New("unknown channel "+d.Channel))
}

// webhook returns the webhook a delivery goes to, as configured now.
func (t *tenantRun) webhook(ctx context.Context, id string) (lockbox.Webhook, error) {
	if id == lockbox.ProviderWebhook {
		if t.job.Provider == nil {
			return lockbox.Webhook{}, errors.Join(ErrPermanent, errors.New("the provider's webhook is no longer configured"))
		}
		return *t.job.Provider, nil
	}
	set, err := t.currentSettings(ctx)
	if err != nil {
		return lockbox.Webhook{}, err
	}
	i := slices.IndexFunc(set.Webhooks, func(w lockbox.Webhook) bool { return w.ID == id })
	if i < 0 {
		return lockbox.Webhook{}, errors.Join(ErrPermanent, errors.New("webhook "+id+" is no longer configured"))
	}
	return set.Webhooks[i], nil
}

// publicMessage is what callers may see of an error.
func publicMessage(err error) string {
	var le *lockbox.Error
	if errors.As(err, &le) {
		return le.Message
	}
	return "internal error"
}
