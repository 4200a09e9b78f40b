package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"strings"

	handler "github.com/openfaas/templates-sdk/go-http"

	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/lockbox"
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
	// Canceled and Revoked are the ids of the ticket's requests the close
	// withdrew and whose grants it ended; requests already closed are left
	// as they are.
	Canceled []string `json:"canceled,omitempty"`
	Revoked  []string `json:"revoked,omitempty"`
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
		return handler.Response{}, lockbox.Errorf(lockbox.KindTooLarge, "PayloadTooLarge", "body is larger than %d bytes", MaxIntakeBody)
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
	d, err := src.Verify(req.Header, req.Body, s.Now())
	if err != nil {
		return handler.Response{}, err
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return handler.Response{}, lockbox.Errorf(lockbox.KindUnsupportedMedia, "UnsupportedMediaType",
			"Content-Type must be application/json: set the webhook's content type to JSON")
	}
	out, err := src.Route(req.Body)
	if err != nil {
		return handler.Response{}, err
	}
	switch out.Do {
	case intake.DoCreate:
		return intakeCreate(s, req, src, d, out)
	case intake.DoClose:
		return intakeClose(s, req, src, out)
	}
	s.Log.Info("intake delivery ignored: no action selected it", "source", src.Name, "delivery", d.ID)
	return httpapi.JSON(http.StatusAccepted, IntakeResult{Result: "ignored", Source: src.Name}), nil
}

// intakeService is who files through a source: the service
// "intake:<source>", which the audit log and the own-request rules see.
func intakeService(src *intake.Source) lockbox.Principal {
	return lockbox.Principal{Kind: lockbox.KindService, Subject: "intake:" + src.Name}
}

// intakeCreate files the mapped request in the same single step as
// lockbox-create. A delivery seen before (the same delivery id, or without
// one the same ticket and action) gets the request it filed.
func intakeCreate(s *Service, req handler.Request, src *intake.Source, d intake.Delivery, out intake.Outcome) (handler.Response, error) {
	p := intakeService(src)
	key := out.Key(src.Name, d)
	// The key names the delivery, so the same key is the same delivery:
	// its body hash is the key's, and a re-delivery whose ticket changed
	// in between still gets the request it filed.
	k := sha256.Sum256([]byte(p.Key() + "\n" + key))
	idem := &lockbox.Idempotency{KeyHash: hex.EncodeToString(k[:]), BodyHash: hex.EncodeToString(k[:])}
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	r := lockbox.NewRequest(out.Input, lockbox.NewID(), s.Now(), s.Store.Limits())
	r.FiledBy = p.Key()
	r, replayed, err := s.Store.Create(ctx, r, lockbox.CreateOptions{Idempotency: idem, SignatureHash: d.SignatureHash})
	if err != nil {
		return handler.Response{}, err
	}
	if replayed {
		s.Log.Info("intake delivery seen before", "source", src.Name, "tenantId", r.TenantID, "requestId", r.RequestID)
		return httpapi.JSON(http.StatusOK, r), nil
	}
	s.changed(r.TenantID)
	s.Log.Info("lockbox request filed", "tenantId", r.TenantID, "requestId", r.RequestID, "supportRequest", r.SupportRequest,
		"by", p.Subject, "action", out.Action)
	return httpapi.JSON(http.StatusCreated, r), nil
}

// intakeClose withdraws the ticket's pending requests and ends its live
// grants, each in its own atomic step recorded as done by the system, as
// "ticket:<source>". A request that is already closed, or closes meanwhile,
// is left as it is, so a re-delivered close changes nothing more.
func intakeClose(s *Service, req handler.Request, src *intake.Source, out intake.Outcome) (handler.Response, error) {
	ctx, cancel := httpapi.Context(req, httpapi.Timeout)
	defer cancel()
	rs, err := s.Store.ByTicket(ctx, out.TenantID, out.Ticket)
	if err != nil {
		return handler.Response{}, err
	}
	res := IntakeResult{Result: "closed", Source: src.Name, Action: out.Action, TenantID: out.TenantID, Ticket: out.Ticket}
	for _, r := range rs {
		var a lockbox.Action
		switch {
		case r.Status == lockbox.StatusPending:
			a = lockbox.ActionCancel
		case r.Status == lockbox.StatusApproved && r.AccessActive:
			a = lockbox.ActionRevoke
		default:
			continue
		}
		// Like an expiry, a ticket's close is the system's doing, not a
		// person's: no principal, so segregation of duties (which keeps
		// people from deciding or revoking their own requests) does not
		// stop the source from withdrawing what it filed.
		_, err := s.Store.Act(ctx, out.TenantID, r.RequestID, lockbox.Act{Action: a, Actor: lockbox.Actor{Kind: lockbox.ActorSystem, ID: "ticket:" + src.Name},
			Reason: out.Reason, At: s.Now()})
		var le *lockbox.Error
		switch {
		case errors.As(err, &le) && le.Kind == lockbox.KindConflict:
			continue // it closed meanwhile
		case err != nil:
			return handler.Response{}, err
		case a == lockbox.ActionCancel:
			res.Canceled = append(res.Canceled, r.RequestID)
		default:
			res.Revoked = append(res.Revoked, r.RequestID)
		}
	}
	if len(res.Canceled)+len(res.Revoked) > 0 {
		s.changed(out.TenantID)
	}
	s.Log.Info("lockbox ticket closed", "source", src.Name, "tenantId", out.TenantID, "supportRequest", out.Ticket,
		"canceled", len(res.Canceled), "revoked", len(res.Revoked))
	return httpapi.JSON(http.StatusOK, res), nil
}
