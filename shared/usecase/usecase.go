// Package usecase holds every use case of Lockbox once: filing a request,
// deciding, revoking and canceling it, closing a ticket, reading requests,
// reading and changing a tenant's settings, reading the activity log and a
// request's notifications, locking a tenant down, reviewing emergency
// access. Each takes the authenticated principal and its
// input. The HTTP functions (package api), the portal and the ticketing
// intake call them alike, so that what a caller may do is decided here,
// once, whichever way they came in, and a defence added here holds on every
// path.
//
// A use case validates its input, decides who may do what (the domain's
// Authorize functions), applies the tenant's rules through the store's
// atomic steps, nudges lockbox-notify after a change and logs it. It knows
// nothing of HTTP: transports authenticate, decode and encode.
package usecase

import (
	"context"
	"log/slog"
	"time"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/passkey"
)

// Service runs the use cases. package app builds one per process.
type Service struct {
	Store         lockbox.Store
	SettingsStore lockbox.SettingsStore
	// Lockdowns keeps tenants' lockdowns.
	Lockdowns lockbox.LockdownStore
	// Emergencies keeps the customer's reviews of emergency access.
	Emergencies lockbox.EmergencyStore
	// ActivityLog reads the activity log; nil where it is not linked (the
	// activity use case then answers that it is unavailable).
	ActivityLog lockbox.ActivityLog
	// DeliveryLog reads a request's notification deliveries; nil where it
	// is not linked.
	DeliveryLog DeliveryReader
	// Marks remembers what was done once (a ticket's close); nil where it is
	// not linked.
	Marks Marks
	// URLs checks the webhook URLs of settings (netguard.Guard implements
	// it); AllowPlainHTTP accepts http:// ones (webhook_allow_private).
	URLs           URLChecker
	AllowPlainHTTP bool
	// Notifier is told of every change, so that lockbox-notify sends what
	// the change recorded at once (nudge.Client); nil for none.
	Notifier Notifier
	// Policy is the provider's policy (the secret lockbox-provider-policy);
	// nil when there is none, and then nothing is required at filing.
	Policy *lockbox.ProviderPolicy
	// Passkeys keeps the passkeys people registered, and RP is the WebAuthn
	// relying party that checks them; either nil: passkeys are off (a
	// decision signed with one, or in a tenant that requires one, is
	// refused).
	Passkeys lockbox.PasskeyStore
	RP       *passkey.RP
	Now      func() time.Time
	Log      *slog.Logger
}

// Notifier nudges lockbox-notify about a tenant (nudge.Client implements
// it). It never blocks.
type Notifier interface {
	Nudge(tenant string)
}

// URLChecker says whether an outgoing URL may be called: its scheme, and
// the addresses its host resolves to.
type URLChecker interface {
	Check(ctx context.Context, raw string) error
}

// DeliveryReader reads the notifications delivered about a request
// (redisstore.Store implements it).
type DeliveryReader interface {
	Deliveries(ctx context.Context, tenant, id string) ([]lockbox.Delivery, error)
}

// Marks remembers, per tenant, that something was done, and its outcome,
// for a while (redisstore.Store implements it).
type Marks interface {
	// Mark records value under name in tenant for ttl unless a value is
	// there already; it returns the value found (found true) or nothing.
	// Errors: KindUnavailable.
	Mark(ctx context.Context, tenant, name, value string, ttl time.Duration) (prev string, found bool, err error)
	// SetMark replaces the value under name in tenant, for ttl.
	// Errors: KindUnavailable.
	SetMark(ctx context.Context, tenant, name, value string, ttl time.Duration) error
}

// changed tells the notifier, if any, that tenant changed.
func (s *Service) changed(tenant string) {
	if s.Notifier != nil {
		s.Notifier.Nudge(tenant)
	}
}

func (s *Service) now() time.Time { return s.Now() }
