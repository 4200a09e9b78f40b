package api

import (
	"log/slog"
	"mime"
	"net/http"
	"strings"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/usecase"
)

// MaxIntakeBody is the largest delivery lockbox-intake takes (1 MiB, the
// template's own limit): a ticketing system's delivery carries the whole
// ticket, its changelog and often its description, well over MaxBody.
const MaxIntakeBody = 1 << 20

// IntakeResult is lockbox-intake's answer to a delivery that closed a
// ticket or that no action selected. A filed request is answered with the
// request itself, as lockbox-create answers.
type IntakeResult struct {
	// Result is "closed" or "ignored".
	Result string `json:"result"`
	Source string `json:"source"`
	// Action is the name of the action that matched ("" when ignored).
	Action   string `json:"action,omitempty"`
	TenantID string `json:"tenantId,omitempty"`
	Ticket   string `json:"ticket,omitempty"`
	// Canceled and Revoked are the ids of the source's own requests for the
	// ticket that the close withdrew and whose grants it ended; requests
	// already closed, and those filed any other way, are left as they are.
	Canceled []string `json:"canceled,omitempty"`
	Revoked  []string `json:"revoked,omitempty"`
	// Replayed: the same delivery was processed before; this is its first
	// outcome, and nothing changed now.
	Replayed bool `json:"replayed,omitempty"`
}

// Intake takes a ticketing system's own webhook (lockbox-intake): POST
// /<source>, the vendor's signature checked against the source's secrets
// before anything is parsed. 201 with the filed request (200 with the
// original when the delivery was seen before), 200 IntakeResult when it
// closed the ticket, 202 when no action selected it; 404 for an unknown
// source, 401 for a bad signature, 400 for a body that is not JSON, 422
// naming each field of an invalid mapped request. A refused delivery
// changes nothing.
func Intake(s *Service, req handler.Request) (handler.Response, error) {
	if err := httpapi.CheckMethod(req, http.MethodPost); err != nil {
		return handler.Response{}, err
	}
	if len(req.Body) > MaxIntakeBody {
		return handler.Response{}, httpapi.ErrTooLarge("body", MaxIntakeBody)
	}
	name, rest := strings.TrimPrefix(httpapi.Path(req), "/"), ""
	name, rest, _ = strings.Cut(name, "/")
	if rest != "" {
		return handler.Response{}, lockbox.Errorf(lockbox.KindNotFound, "NotFound", "no such intake source")
	}
	src, err := s.Intake.Source(name)
	if err != nil {
		return handler.Response{}, err
	}
	d, err := src.Verify(req.Header, req.Body, s.Cases.Now())
	if err != nil {
		return handler.Response{}, err
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return handler.Response{}, httpapi.ErrUnsupportedMedia("Content-Type must be application/json: set the webhook's content type to JSON")
	}
	out, err := src.Route(req.Body)
	if err != nil {
		return handler.Response{}, err
	}
	p := src.Principal(d)
	delivery := usecase.Delivery{Key: out.Key(src.Name, d), Body: req.Body, Action: out.Action}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	switch out.Do {
	case intake.DoCreate:
		filed, err := s.Cases.FileTicket(ctx, p, out.Input, delivery)
		if err != nil {
			return handler.Response{}, err
		}
		return filedResponse(filed), nil
	case intake.DoClose:
		closed, err := s.Cases.CloseTicket(ctx, p, out.TenantID, out.Ticket, out.Reason, delivery)
		if err != nil {
			return handler.Response{}, err
		}
		return httpapi.JSON(http.StatusOK, IntakeResult{Result: "closed", Source: src.Name, Action: out.Action, TenantID: out.TenantID,
			Ticket: out.Ticket, Canceled: closed.Canceled, Revoked: closed.Revoked, Replayed: closed.Replayed}), nil
	}
	slog.Info("intake delivery ignored: no action selected it", "source", src.Name, "delivery", d.ID)
	return httpapi.JSON(http.StatusAccepted, IntakeResult{Result: "ignored", Source: src.Name}), nil
}
