package usecase

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"lockbox.dev/shared/lockbox"
)

// Delivery is a ticketing system's delivery whose signature its source
// verified, as the use cases need it.
type Delivery struct {
	// Key names the delivery: the vendor's delivery id, or without one the
	// ticket and the action (intake.Outcome.Key).
	Key string
	// Body is the signed body: the same body again is the same delivery,
	// whatever delivery id it comes with.
	Body []byte
	// Action is the name of the source's action that selected it (logged).
	Action string
}

// bodyKey is the key under which p's delivery of body is remembered.
func bodyKey(p lockbox.Principal, body []byte) string {
	b := sha256.Sum256(body)
	k := sha256.Sum256([]byte(p.Key() + "\nbody:" + hex.EncodeToString(b[:])))
	return hex.EncodeToString(k[:])
}

// FileTicket files the request a ticketing source mapped from delivery d
// (lockbox-intake), as the source p. The delivery is filed once: the same
// delivery id, or the same signed body under any delivery id for as long as
// a request may stay pending, gets the request it filed (Replayed), so a
// captured body sent again files nothing, even by a vendor that signs no
// timestamp (Jira, GitHub, ServiceNow's HMAC). Errors: as File.
func (s *Service) FileTicket(ctx context.Context, p lockbox.Principal, in lockbox.CreateInput, d Delivery) (Filed, error) {
	if err := in.Validate(); err != nil {
		return Filed{}, err
	}
	if err := lockbox.AuthorizeCreate(p, in); err != nil {
		return Filed{}, err
	}
	// The key names the delivery, so the same key is the same delivery:
	// its body hash is the key's, and a re-delivery whose ticket changed in
	// between still gets the request it filed.
	k := sha256.Sum256([]byte(p.Key() + "\n" + d.Key))
	key := hex.EncodeToString(k[:])
	body := bodyKey(p, d.Body)
	opts := lockbox.CreateOptions{Idempotency: &lockbox.Idempotency{KeyHash: key, BodyHash: key},
		SameBody: &lockbox.Idempotency{KeyHash: body, BodyHash: body}, SignatureHash: p.SignatureHash}
	return s.file(ctx, p, in, opts, d.Action)
}

// TicketClosed is what a ticket's close did: the ids of the requests it
// withdrew (Canceled) and whose grants it ended (Revoked). Replayed: the
// same delivery was processed before; these are its first outcome, and
// nothing changed now.
type TicketClosed struct {
	Canceled []string `json:"canceled,omitempty"`
	Revoked  []string `json:"revoked,omitempty"`
	Replayed bool     `json:"-"`
}

// closeInProgress is the mark of a close being processed; closeClaim how
// long it holds, so that a close that died halfway is done again by the
// vendor's retry.
const (
	closeInProgress = "in-progress"
	closeClaim      = time.Minute
)

// CloseTicket carries out a resolved ticket's close (lockbox-intake): the
// source p withdraws the pending requests it filed for ticket in tenant and
// ends their live grants, each in its own atomic step, recorded as done by
// the system ("ticket:<source>"). A request filed any other way (by
// lockbox-create, another source, an engineer) for the same ticket is left
// alone: a ticket's close acts only on what its own source filed. A request
// that is already closed, or closes meanwhile, is left as it is. Every
// delivery is processed at most once: the same signed body again, within
// the pending window, answers the first outcome and changes nothing.
// Errors: KindInvalid, KindForbidden (p is not a ticketing source),
// KindConflict (the same delivery is being processed), KindUnavailable.
func (s *Service) CloseTicket(ctx context.Context, p lockbox.Principal, tenant, ticket, reason string, d Delivery) (TicketClosed, error) {
	if err := lockbox.AuthorizeClose(p, tenant); err != nil {
		return TicketClosed{}, err
	}
	mark := "close:" + bodyKey(p, d.Body)
	if s.Marks != nil {
		prev, found, err := s.Marks.Mark(ctx, tenant, mark, closeInProgress, closeClaim)
		if err != nil {
			return TicketClosed{}, err
		}
		if found {
			return s.closedBefore(prev)
		}
	}
	rs, err := s.Store.ByTicket(ctx, tenant, ticket)
	if err != nil {
		return TicketClosed{}, err
	}
	var out TicketClosed
	actor := lockbox.Actor{Kind: lockbox.ActorSystem, ID: lockbox.TicketActor(p)}
	for _, r := range rs {
		var a lockbox.Action
		switch {
		case r.FiledBy != p.Key():
			continue // not this source's filing
		case r.Status == lockbox.StatusPending, r.Status == lockbox.StatusInternalReview:
			a = lockbox.ActionCancel
		case r.Status == lockbox.StatusApproved && r.AccessActive:
			a = lockbox.ActionRevoke
		default:
			continue
		}
		// Like an expiry, a ticket's close is the system's doing, not a
		// person's: no principal key, so segregation of duties (which keeps
		// people from deciding or revoking their own requests) does not
		// stop the source from withdrawing what it filed.
		_, err := s.Store.Act(ctx, tenant, r.RequestID, lockbox.Act{Action: a, Actor: actor, Reason: reason, At: s.now()})
		var le *lockbox.Error
		switch {
		case errors.As(err, &le) && le.Kind == lockbox.KindConflict:
			continue // it closed meanwhile
		case err != nil:
			return TicketClosed{}, err
		case a == lockbox.ActionCancel:
			out.Canceled = append(out.Canceled, r.RequestID)
		default:
			out.Revoked = append(out.Revoked, r.RequestID)
		}
	}
	if len(out.Canceled)+len(out.Revoked) > 0 {
		s.changed(tenant)
	}
	if s.Marks != nil {
		b, err := json.Marshal(out)
		if err != nil {
			return TicketClosed{}, lockbox.Internal("encode a close's outcome", err)
		}
		if err := s.Marks.SetMark(ctx, tenant, mark, string(b), s.Store.Limits().PendingTTL); err != nil {
			return TicketClosed{}, err
		}
	}
	s.Log.Info("lockbox ticket closed", "source", p.Subject, "tenantId", tenant, "supportRequest", ticket,
		"canceled", len(out.Canceled), "revoked", len(out.Revoked), "action", d.Action)
	return out, nil
}

// closedBefore is the answer to a close delivered again: the first
// outcome, or a conflict while the first is still being processed.
func (s *Service) closedBefore(prev string) (TicketClosed, error) {
	if prev == closeInProgress {
		return TicketClosed{}, lockbox.Errorf(lockbox.KindConflict, "DeliveryInProgress",
			"this delivery is being processed; send it again in a minute")
	}
	var out TicketClosed
	if err := json.Unmarshal([]byte(prev), &out); err != nil {
		return TicketClosed{}, lockbox.Internal("decode a close's outcome", err)
	}
	out.Replayed = true
	return out, nil
}
