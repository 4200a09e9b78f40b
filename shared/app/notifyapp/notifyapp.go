// Package notifyapp builds lockbox-notify's dependencies, as package app
// does for the request functions: the store, the mail sender (when smtp_url
// is set) and the webhook sender, each adapted to what package notify asks
// for.
package notifyapp

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/app"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/mail"
	"lockbox.dev/shared/netguard"
	"lockbox.dev/shared/notify"
	"lockbox.dev/shared/webhook"
)

// Notify returns lockbox-notify's handler, built from the process
// environment.
func Notify() *app.Lazy[*notify.Handler] {
	return app.NewLazy(func() (*notify.Handler, redis.UniversalClient, error) {
		p, err := app.Open(config.Needs{Webhook: true, JWT: true, Notify: true})
		if err != nil {
			return nil, nil, err
		}
		job, err := Job(p.Store, p.Config)
		if err != nil {
			return nil, nil, err
		}
		return &notify.Handler{Job: job, Auth: p.Verifier, Deliveries: p.Store}, p.Redis, nil
	})
}

// Job returns the notify job on store configured by cfg.
func Job(store notify.Store, cfg config.Config) (*notify.Job, error) {
	n := cfg.Notify
	job := &notify.Job{Store: store, Poster: Poster{Sender: webhook.NewSender(netguard.Guard{AllowPrivate: cfg.WebhookAllowPrivate}),
		PortalURL: n.PortalURL}, Now: time.Now, Log: slog.Default()}
	if n.SMTPURL != "" {
		sender, err := mail.New(mail.Config{URL: n.SMTPURL, Password: n.SMTPPassword, From: n.MailFrom, PortalURL: n.PortalURL})
		if err != nil {
			return nil, err
		}
		job.Mailer = Mailer{Sender: sender, PortalURL: n.PortalURL}
	}
	if n.WebhookURL != "" {
		job.Provider = &lockbox.Webhook{ID: lockbox.ProviderWebhook, URL: n.WebhookURL, Format: lockbox.FormatStandard, Secret: n.WebhookSecret}
	}
	return job, nil
}

// Mailer renders a notification for one recipient and sends it.
type Mailer struct {
	Sender    *mail.Sender
	PortalURL string
}

// Mail implements notify.Mailer.
func (m Mailer) Mail(ctx context.Context, n lockbox.Notification, to, deliveryID string) error {
	subject, text, html, err := mail.Render(n, m.PortalURL, to)
	if err != nil {
		return errors.Join(notify.ErrPermanent, err)
	}
	err = m.Sender.Send(ctx, mail.Message{ID: m.Sender.MessageID(deliveryID, to), To: to, Subject: subject, Text: text, HTML: html})
	if err != nil && mail.Permanent(err) {
		return errors.Join(notify.ErrPermanent, err)
	}
	return err
}

// Poster renders a notification in a webhook's format and sends it.
type Poster struct {
	Sender    *webhook.Sender
	PortalURL string
}

// Post implements notify.Poster.
func (p Poster) Post(ctx context.Context, n lockbox.Notification, w lockbox.Webhook, id string) error {
	body, err := webhook.Payload(w.Format, n, p.PortalURL)
	if err != nil {
		return errors.Join(notify.ErrPermanent, err)
	}
	err = p.Sender.Send(ctx, webhook.Delivery{URL: w.URL, Secret: w.Secret, ID: id, Body: body})
	var we *webhook.Error
	switch {
	case err == nil:
		return nil
	case webhook.Permanent(err):
		return errors.Join(notify.ErrPermanent, err)
	case errors.As(err, &we) && we.RetryAfter > 0:
		return &notify.RetryLater{After: we.RetryAfter, Err: err}
	}
	return err
}
