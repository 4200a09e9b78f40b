package notify

import (
	"context"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/nudge"
)

// Timeout bounds one run.
const Timeout = 50 * time.Second

// Authenticator identifies callers who present credentials (auth.Verifier
// implements it).
type Authenticator interface {
	Authenticate(h http.Header, payload []byte, accept ...lockbox.PrincipalKind) (lockbox.Principal, error)
}

// DeliveryReader reads a request's deliveries (redisstore.Store).
type DeliveryReader interface {
	Get(ctx context.Context, tenant, id string) (lockbox.Request, error)
	Deliveries(ctx context.Context, tenant, id string) ([]lockbox.Delivery, error)
}

// Handler serves lockbox-notify.
type Handler struct {
	Job        *Job
	Auth       Authenticator
	Deliveries DeliveryReader
}

// Serve is lockbox-notify's call flow:
//
//   - POST (the cron-connector, empty; a nudge through /async-function/,
//     nudge.Body {"tenantIds"}: those tenants only): a run. 200 with its summary, 503 when
//     a tenant could not be worked on. Without credentials the summary holds
//     counts only; a signed call or an operator's token also gets the errors.
//   - GET ?requestId=&tenantId=: the request's deliveries, for its tenant's
//     approvers and admins (operators and signed services name the tenant).
func (h *Handler) Serve(req handler.Request) (handler.Response, error) {
	if req.Method == http.MethodGet {
		return h.deliveries(req)
	}
	if err := httpapi.CheckRequest(req, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	var tenants []string
	if len(req.Body) > 0 {
		var n nudge.Body
		if err := httpapi.Decode(req, &n); err != nil {
			return handler.Response{}, err
		}
		if len(n.TenantIDs) == 0 || len(n.TenantIDs) > nudge.MaxTenants {
			return handler.Response{}, lockbox.Invalidf("tenantIds must name 1..%d tenants", nudge.MaxTenants)
		}
		for _, t := range n.TenantIDs {
			if !lockbox.ValidTenantID(t) {
				return handler.Response{}, lockbox.Invalidf("tenantIds must each be 1..64 characters of [A-Za-z0-9._-]")
			}
		}
		slices.Sort(n.TenantIDs)
		tenants = slices.Compact(n.TenantIDs)
	}
	p, err := h.Auth.Authenticate(req.Header, req.Body, lockbox.KindService, lockbox.KindUser)
	if err != nil && !lockbox.IsNoCredentials(err) {
		return handler.Response{}, err
	}
	detail := err == nil && (p.Kind == lockbox.KindService || p.Has(lockbox.RoleOperator))
	ctx, cancel := httpapi.Context(req, Timeout)
	defer cancel()
	s := h.Job.Run(ctx, tenants...)
	debug.FreeOSMemory() // idle until the next nudge or minute
	status := http.StatusOK
	if len(s.Errors) > 0 {
		status = http.StatusServiceUnavailable
	}
	h.Job.Log.Info("notify run", "timers", s.Timers, "expanded", s.Expanded, "sent", s.Sent, "retrying", s.Retrying, "failed", s.Failed,
		"errors", len(s.Errors))
	if !detail {
		s.Errors = nil
	}
	return httpapi.JSON(status, s), nil
}

// DeliveryView is a delivery as its tenant's approvers and admins see it.
type DeliveryView struct {
	ID          string                   `json:"id"`
	Type        lockbox.NotificationType `json:"type"`
	Channel     string                   `json:"channel"`
	Recipient   string                   `json:"recipient"` // a mail address partly masked, or a webhook's id
	State       lockbox.DeliveryState    `json:"state"`
	Attempts    int                      `json:"attempts"`
	LastError   string                   `json:"lastError,omitempty"`
	Created     time.Time                `json:"createdDateTime"`
	Updated     time.Time                `json:"updatedDateTime"`
	NextAttempt *time.Time               `json:"nextAttemptDateTime"`
}

// Views are deliveries as they may be shown.
func Views(ds []lockbox.Delivery) []DeliveryView {
	out := make([]DeliveryView, len(ds))
	for i, d := range ds {
		out[i] = DeliveryView{ID: d.ID, Type: d.Notification.Type, Channel: d.Channel, Recipient: d.Recipient(), State: d.State,
			Attempts: d.Attempts, LastError: d.LastError, Created: d.Created, Updated: d.Updated}
		if !d.Next.IsZero() && d.State != lockbox.DeliverySent && d.State != lockbox.DeliveryFailed {
			next := d.Next
			out[i].NextAttempt = &next
		}
	}
	return out
}

var deliveriesParams = map[string]bool{"requestId": true, "tenantId": true}

func (h *Handler) deliveries(req handler.Request) (handler.Response, error) {
	p, err := h.Auth.Authenticate(req.Header, []byte(req.QueryString), lockbox.KindService, lockbox.KindUser)
	if err != nil {
		return handler.Response{}, err
	}
	q, err := httpapi.ParseQuery(req.QueryString, deliveriesParams)
	if err != nil {
		return handler.Response{}, err
	}
	tenant, err := lockbox.AuthorizeDeliveries(p, q.Get("tenantId"))
	if err != nil {
		return handler.Response{}, err
	}
	id := q.Get("requestId")
	if !lockbox.ValidRequestID(id) {
		return handler.Response{}, lockbox.Invalidf("requestId must be 1..64 characters of [A-Za-z0-9-]")
	}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	if _, err := h.Deliveries.Get(ctx, tenant, id); err != nil {
		return handler.Response{}, err
	}
	ds, err := h.Deliveries.Deliveries(ctx, tenant, id)
	if err != nil {
		return handler.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, struct {
		Value []DeliveryView `json:"value"`
	}{Views(ds)}), nil
}
