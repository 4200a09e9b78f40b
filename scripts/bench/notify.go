package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/mail"
	"lockbox.dev/shared/netguard"
	"lockbox.dev/shared/notify"
	"lockbox.dev/shared/webhook"
)

// The notification measurement. Requests are filed for tenants with two
// approvers and one standard webhook; lockbox-notify, called as the
// cron-connector calls it, drains their outboxes into deliveries and sends
// them (two mails and one webhook per request) to receivers in the load
// generator: an SMTP server and an HTTP endpoint answering 204. Its ceiling
// is the same senders (mail.Sender and webhook.Sender, configured alike)
// sending as many messages, rendered beforehand, straight to the same
// receivers from the load generator, as many at once as lockbox-notify
// sends.

// benchPortalURL is lockbox-notify's portal_url: mails and payloads link to
// it.
const benchPortalURL = "https://portal.lockbox.example"

// notifyApprovers are every notify tenant's approvers: each is mailed about
// every request filed.
var notifyApprovers = []lockbox.Approver{
	{ID: "approver-1", Email: "alice@contoso.example", DisplayName: "Alice Approver"},
	{ID: "approver-2", Email: "bob@contoso.example", DisplayName: "Bob Approver"},
}

// notifyWarmup is how many requests the unmeasured first run sends about.
const notifyWarmup = 20

// webhookSecret returns a new Standard Webhooks secret ("whsec_<base64>").
func webhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return lockbox.WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// notifySettings gives s the notify tenants' approvers and their one
// webhook, at url and signed with secret.
func notifySettings(s *lockbox.Settings, url, secret string) {
	s.Approvers = notifyApprovers
	s.Webhooks = []lockbox.Webhook{{ID: "bench-hook", URL: url, Format: lockbox.FormatStandard, Secret: secret}}
}

// startSinks starts the load generator's receivers.
func (b *bench) startSinks() (sinkAddrs, error) {
	o, err := b.lg.do(Job{Op: "sinks", RedisURL: b.redis.clientURL(), SecretsDir: b.secrets})
	if err == nil && o.FirstError != "" {
		err = errors.New(o.FirstError)
	}
	if err == nil && o.Sinks == nil {
		err = errors.New("no addresses")
	}
	if err != nil {
		return sinkAddrs{}, fmt.Errorf("start the notification receivers: %w", err)
	}
	return *o.Sinks, nil
}

// received is what the receivers have counted so far.
func (b *bench) received() (mails, webhooks int, err error) {
	o, err := b.lg.do(Job{Op: "sinkcount", RedisURL: b.redis.clientURL(), SecretsDir: b.secrets})
	if err == nil && o.FirstError != "" {
		err = errors.New(o.FirstError)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("count what the receivers got: %w", err)
	}
	return o.Mails, o.Webhooks, nil
}

// notifyConcurrency is how many deliveries lockbox-notify sends at once for
// tenants tenants: notify.Senders each, notify.Workers tenants at a time.
func notifyConcurrency(tenants int) int { return min(tenants, notify.Workers) * notify.Senders }

// notify measures lockbox-notify after an unmeasured run: the requests of
// one tenant, whose deliveries it sends notify.Senders at a time, then the
// same number spread over notify.Workers tenants, which it works on at once;
// each beside its ceiling at the same concurrency.
func (b *bench) notify() error {
	secret := webhookSecret()
	if _, err := b.notifyRun("bench-notify-warm", 1, notifyWarmup, secret); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if _, err := b.notifyCeiling(1, notifyWarmup, secret); err != nil {
		return fmt.Errorf("warm-up of the ceiling: %w", err)
	}
	for _, tenants := range []int{1, notify.Workers} {
		per := b.plan.NotifyRequests / tenants
		run, err := b.notifyRun(fmt.Sprintf("bench-notify-%d", tenants), tenants, per, secret)
		if err != nil {
			return fmt.Errorf("%d tenants: %w", tenants, err)
		}
		if run.Ceiling, err = b.notifyCeiling(tenants, per, secret); err != nil {
			return fmt.Errorf("ceiling of %d tenants: %w", tenants, err)
		}
		b.rep.Notify = append(b.rep.Notify, run)
		b.log.Info("notify", "tenants", tenants, "deliveries/s", fmt.Sprintf("%.0f", run.Throughput()),
			"ceiling", fmt.Sprintf("%.0f", run.Ceiling.Throughput()))
	}
	return nil
}

// notifyRun files per requests in each of tenants tenants named after
// prefix, then calls lockbox-notify (an empty POST, as the cron-connector
// does) until every delivery is sent, and checks that the receivers got
// that many mails and webhooks.
func (b *bench) notifyRun(prefix string, tenants, per int, secret string) (NotifyRun, error) {
	ctx := context.Background()
	for t := range tenants {
		tenant := fmt.Sprintf("%s-%d", prefix, t)
		if err := b.configure(tenant, func(s *lockbox.Settings) { notifySettings(s, b.sinks.Webhook, secret) }); err != nil {
			return NotifyRun{}, fmt.Errorf("configure %s: %w", tenant, err)
		}
		if _, err := b.fill(tenant, per, lockbox.DefaultLimits, func(i int) string { return fmt.Sprintf("eng-%d", i) }); err != nil {
			return NotifyRun{}, fmt.Errorf("fill %s: %w", tenant, err)
		}
		// The fill's events are set-up, not audit history worth exporting.
		if err := b.redis.store(lockbox.DefaultLimits).ForgetEvents(ctx, tenant); err != nil {
			return NotifyRun{}, err
		}
	}
	run := NotifyRun{Tenants: tenants, Concurrency: notifyConcurrency(tenants), Requests: tenants * per,
		Mails: tenants * per * len(notifyApprovers), Webhooks: tenants * per}
	mails0, hooks0, err := b.received()
	if err != nil {
		return run, err
	}
	pid := b.fns["lockbox-notify"].cmd.Process.Pid
	c0, err := b.cpu(ctx, pid)
	if err != nil {
		return run, err
	}
	start := time.Now()
	for sent := 0; sent < run.Deliveries(); {
		s, err := b.callNotify()
		if err != nil {
			return run, err
		}
		run.Calls++
		switch {
		case s.Failed > 0 || s.Retrying > 0:
			return run, fmt.Errorf("lockbox-notify failed %d and put off %d deliveries (its log says why)", s.Failed, s.Retrying)
		case s.Sent == 0:
			return run, fmt.Errorf("lockbox-notify sent nothing more after %d of %d deliveries", sent, run.Deliveries())
		}
		sent += s.Sent
	}
	run.Seconds = time.Since(start).Seconds()
	c1, err := b.cpu(ctx, pid)
	if err != nil {
		return run, err
	}
	mails1, hooks1, err := b.received()
	if err != nil {
		return run, err
	}
	if mails1-mails0 != run.Mails || hooks1-hooks0 != run.Webhooks {
		return run, fmt.Errorf("the receivers got %d mails and %d webhooks, want %d and %d", mails1-mails0, hooks1-hooks0, run.Mails, run.Webhooks)
	}
	used := c1.used(c0)
	per1k := 1000 / float64(run.Deliveries())
	run.FunctionCPUPer1k, run.RedisCPUPer1k, run.ReceiverCPUPer1k = used.function*per1k, used.redis*per1k, used.client*per1k
	return run, nil
}

// callNotify calls lockbox-notify as the cron-connector does: a run over
// every tenant.
func (b *bench) callNotify() (notify.Summary, error) {
	var s notify.Summary
	client := &http.Client{Timeout: 2 * time.Minute} // a run ends within notify.Timeout
	resp, err := client.Post("http://"+b.fns["lockbox-notify"].addr, "", nil)
	if err != nil {
		return s, fmt.Errorf("call lockbox-notify: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("lockbox-notify's answer (%d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("lockbox-notify answered %d (its log says why)", resp.StatusCode)
	}
	return s, nil
}

// notifyCeiling has the load generator send the messages of tenants×per
// requests straight to the receivers, as many at once as lockbox-notify
// sends for that many tenants: first every mail, then every webhook.
func (b *bench) notifyCeiling(tenants, per int, secret string) (NotifyCeiling, error) {
	ctx := context.Background()
	set := lockbox.DefaultSettings(true)
	notifySettings(&set, b.sinks.Webhook, secret)
	cfg := &notifyConfig{SMTPURL: "smtp://" + b.sinks.SMTP, From: b.st.Functions["lockbox-notify"].Environment["mail_from"],
		PortalURL: benchPortalURL, WebhookURL: b.sinks.Webhook, Secret: secret,
		To: notify.MailTo(lockbox.Notification{Type: lockbox.NoteCreated}, set)}
	items := make([]Item, tenants*per)
	for i := range items {
		items[i] = Item{Tenant: fmt.Sprintf("bench-notify-raw-%d", i%tenants), Key: fmt.Sprintf("eng-%d", i/tenants)}
	}
	mails0, hooks0, err := b.received()
	if err != nil {
		return NotifyCeiling{}, err
	}
	c0, err := b.cpu(ctx, 0)
	if err != nil {
		return NotifyCeiling{}, err
	}
	var out [2]Outcome
	for i, op := range []string{"rawmail", "rawwebhook"} {
		o, err := b.lg.do(Job{Op: op, Concurrency: notifyConcurrency(tenants), Items: items, Notify: cfg,
			RedisURL: b.redis.clientURL(), SecretsDir: b.secrets})
		if err == nil && o.Errors > 0 {
			err = fmt.Errorf("%d of %d sends failed, the first: %s", o.Errors, o.Ops, o.FirstError)
		}
		if err != nil {
			return NotifyCeiling{}, fmt.Errorf("%s: %w", op, err)
		}
		out[i] = o
	}
	c1, err := b.cpu(ctx, 0)
	if err != nil {
		return NotifyCeiling{}, err
	}
	mails1, hooks1, err := b.received()
	if err != nil {
		return NotifyCeiling{}, err
	}
	if mails1-mails0 != out[0].Ops || hooks1-hooks0 != out[1].Ops {
		return NotifyCeiling{}, fmt.Errorf("the receivers got %d mails and %d webhooks, want %d and %d", mails1-mails0, hooks1-hooks0, out[0].Ops, out[1].Ops)
	}
	return NotifyCeiling{Mails: out[0].Ops, Webhooks: out[1].Ops, MailSeconds: out[0].Seconds, WebhookSeconds: out[1].Seconds,
		MailLatency: out[0].Latencies, WebhookLatency: out[1].Latencies,
		ClientCPUPer1k: c1.used(c0).client * 1000 / float64(out[0].Ops+out[1].Ops)}, nil
}

// notifyConfig is how the ceiling sends: lockbox-notify's configuration,
// its receivers and the recipients of each request's mail.
type notifyConfig struct {
	SMTPURL    string   `json:"smtpUrl"`
	From       string   `json:"from"`
	PortalURL  string   `json:"portalUrl"`
	WebhookURL string   `json:"webhookUrl"`
	Secret     string   `json:"secret"`
	To         []string `json:"to"`
}

// sinkAddrs are where the receivers listen.
type sinkAddrs struct {
	SMTP    string `json:"smtp"`    // host:port
	Webhook string `json:"webhook"` // the webhook receiver's URL
}

// sinks are the notification receivers of the load generator, on loopback:
// an SMTP server that accepts every mail and an HTTP endpoint that answers
// every signed webhook 204. They count what they receive and keep nothing.
type sinks struct {
	addrs    sinkAddrs
	smtp     *smtp.Server
	http     *http.Server
	mails    atomic.Int64
	webhooks atomic.Int64
}

// startSinks starts the receivers on free loopback ports.
func startSinks() (*sinks, error) {
	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtp receiver: %w", err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = ml.Close()
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	s := &sinks{addrs: sinkAddrs{SMTP: ml.Addr().String(), Webhook: "http://" + hl.Addr().String() + "/hook"}}
	s.smtp = smtp.NewServer(smtpBackend{s})
	s.smtp.Domain = "localhost"
	s.smtp.MaxRecipients = 10
	s.smtp.ReadTimeout, s.smtp.WriteTimeout = time.Minute, time.Minute
	s.http = &http.Server{Handler: http.HandlerFunc(s.hook), ReadHeaderTimeout: time.Minute}
	go func() { _ = s.smtp.Serve(ml) }()
	go func() { _ = s.http.Serve(hl) }()
	return s, nil
}

// close stops both receivers.
func (s *sinks) close() {
	_ = s.smtp.Close()
	_ = s.http.Close()
}

// hook receives one webhook delivery.
func (s *sinks) hook(w http.ResponseWriter, r *http.Request) {
	_, err := io.Copy(io.Discard, r.Body)
	if err != nil || r.Method != http.MethodPost || r.Header.Get("webhook-id") == "" || r.Header.Get("webhook-signature") == "" {
		http.Error(w, "not a signed webhook delivery", http.StatusBadRequest)
		return
	}
	s.webhooks.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// smtpBackend makes a session per SMTP connection.
type smtpBackend struct{ s *sinks }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return smtpSession(b), nil }

// smtpSession accepts every sender and recipient and counts each mail.
type smtpSession struct{ s *sinks }

func (smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (smtpSession) Reset()                               {}
func (smtpSession) Logout() error                        { return nil }

func (x smtpSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	x.s.mails.Add(1)
	return nil
}

// senders are the ceiling's mail and webhook senders, built on first use
// and kept, as lockbox-notify keeps its own.
type senders struct {
	once sync.Once
	mail *mail.Sender
	hook *webhook.Sender
	err  error
}

func (s *senders) get(c *notifyConfig) (*mail.Sender, *webhook.Sender, error) {
	s.once.Do(func() {
		s.mail, s.err = mail.New(mail.Config{URL: c.SMTPURL, From: c.From, PortalURL: c.PortalURL})
		s.hook = webhook.NewSender(netguard.Guard{AllowPrivate: true})
	})
	return s.mail, s.hook, s.err
}

// notifications are the "created" notifications of requests filed for
// items, as lockbox-notify tells of them.
func notifications(items []Item) []lockbox.Notification {
	now := time.Now()
	out := make([]lockbox.Notification, len(items))
	for i, it := range items {
		r := lockbox.NewRequest(createInput(it), lockbox.NewID(), now, lockbox.DefaultLimits)
		out[i] = lockbox.Notification{ID: fmt.Sprintf("%d-%d", now.UnixMilli(), i), Type: lockbox.NoteCreated, Request: r, Time: now,
			Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: it.Key}}
	}
	return out
}

// rawMail renders the mails of the job's requests, one per recipient, then
// sends them (the ceiling's mail half).
func (g *generator) rawMail(j Job) (Outcome, error) {
	if j.Notify == nil {
		return Outcome{}, errors.New("rawmail needs the notify configuration")
	}
	sender, _, err := g.senders.get(j.Notify)
	if err != nil {
		return Outcome{}, err
	}
	var msgs []mail.Message
	for _, n := range notifications(j.Items) {
		for _, to := range j.Notify.To {
			subject, text, html, err := mail.Render(n, j.Notify.PortalURL, to)
			if err != nil {
				return Outcome{}, err
			}
			msgs = append(msgs, mail.Message{ID: sender.MessageID(n.ID, to), To: to, Subject: subject, Text: text, HTML: html})
		}
	}
	return drive(j.Concurrency, len(msgs), func(ctx context.Context, i int) error { return sender.Send(ctx, msgs[i]) }), nil
}

// rawWebhook encodes the webhook payloads of the job's requests, then sends
// them, each signed as it goes (the ceiling's webhook half).
func (g *generator) rawWebhook(j Job) (Outcome, error) {
	if j.Notify == nil {
		return Outcome{}, errors.New("rawwebhook needs the notify configuration")
	}
	_, sender, err := g.senders.get(j.Notify)
	if err != nil {
		return Outcome{}, err
	}
	notes := notifications(j.Items)
	deliveries := make([]webhook.Delivery, len(notes))
	for i, n := range notes {
		body, err := webhook.Payload(lockbox.FormatStandard, n, j.Notify.PortalURL)
		if err != nil {
			return Outcome{}, err
		}
		deliveries[i] = webhook.Delivery{URL: j.Notify.WebhookURL, Secret: j.Notify.Secret, ID: "msg_" + n.ID, Body: body}
	}
	return drive(j.Concurrency, len(deliveries), func(ctx context.Context, i int) error { return sender.Send(ctx, deliveries[i]) }), nil
}
