package intake

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"lockbox.dev/shared/lockbox"
)

// Outcome is what a delivery asks for.
type Outcome struct {
	// Do is DoCreate, DoClose, or DoNothing when no condition selected the
	// delivery (the function answers 202).
	Do Do
	// Action is the name of the action that matched.
	Action string
	// TenantID is the tenant the request is filed in or closed in.
	TenantID string
	// Ticket is the ticket: the supportRequest to close, or of the request
	// to file.
	Ticket string
	// Input is the request to file (DoCreate), valid by
	// lockbox.CreateInput.Validate.
	Input lockbox.CreateInput
	// Reason is recorded on what a close cancels or revokes (DoClose).
	Reason string
}

// Route maps a verified delivery: the first action whose condition matches
// decides. A body that is not JSON (or nests too deeply, or has a key twice
// in an object) is a KindInvalid error (400). A selected delivery that maps
// to an invalid request (a required path missing, a value mistyped, a field
// the domain refuses) is a KindUnprocessable error (422) naming each field.
func (s *Source) Route(body []byte) (Outcome, error) {
	if err := checkBody(body); err != nil {
		return Outcome{}, err
	}
	for i := range s.Actions {
		if a := &s.Actions[i]; a.When.Matches(body) {
			return s.act(a, body)
		}
	}
	return Outcome{Do: DoNothing}, nil
}

// problems collects what is wrong with a mapped delivery.
type problems []string

func (p *problems) add(field string, err error) {
	msg := err.Error()
	var le *lockbox.Error
	if errors.As(err, &le) {
		msg = le.Message // the domain's message already names the field
	} else {
		msg = field + ": " + msg
	}
	*p = append(*p, msg)
}

func (s *Source) act(a *Action, body []byte) (Outcome, error) {
	o := Outcome{Do: a.Do, Action: a.Name}
	var p problems
	switch a.Do {
	case DoCreate:
		o.Input = s.create(a.Map, body, &p)
		o.TenantID, o.Ticket = o.Input.TenantID, o.Input.SupportRequest
	case DoClose:
		o.TenantID, o.Ticket, o.Reason = s.close(a, body, &p)
	}
	if len(p) > 0 {
		return Outcome{}, lockbox.Errorf(lockbox.KindUnprocessable, "UnprocessableEntity",
			"the delivery selected by action %q maps to an invalid %s: %s", a.Name, a.Do, strings.Join(p, "; "))
	}
	return o, nil
}

// create fills a lockbox.CreateInput from body, field by field, and checks
// each field alone so that every bad field is reported.
func (s *Source) create(m *Mapping, body []byte, p *problems) lockbox.CreateInput {
	var in lockbox.CreateInput
	for _, f := range createFields {
		v := &s.Tenant
		if f.value != nil {
			v = *f.value(m)
		}
		if v == nil {
			continue
		}
		if err := resolve(f, v, body, &in); err != nil {
			if !errors.Is(err, errMissing) || f.required {
				p.add(f.name, err)
			}
			continue
		}
		if err := f.check(&in); err != nil {
			p.add(f.name, err)
		}
	}
	if len(*p) == 0 {
		if err := in.Validate(); err != nil {
			p.add("request", err)
		}
	}
	return in
}

// resolve sets field f of in from v.
func resolve(f field, v *Value, body []byte, in *lockbox.CreateInput) error {
	switch f.kind {
	case kindList:
		ids, err := v.list(body, lockbox.MaxResourceIDs)
		*f.list(in) = ids
		return err
	case kindHours:
		h, err := v.hours(body)
		if err == nil {
			*f.hours(in) = &h
		}
		return err
	}
	t, err := v.text(body)
	*f.text(in) = t
	return err
}

// close reads the tenant, the ticket and the reason of a close.
func (s *Source) close(a *Action, body []byte, p *problems) (tenant, ticket, reason string) {
	tenant, err := s.Tenant.text(body)
	if err == nil && !lockbox.ValidTenantID(tenant) {
		err = lockbox.Invalidf("tenantId must be 1..64 characters of [A-Za-z0-9._-]")
	}
	if err != nil {
		p.add("tenantId", err)
	}
	ticket, err = a.Ticket.text(body)
	if err == nil && checkTicket(ticket) != nil {
		err = errors.New("must be 1..128 printable characters")
	}
	if err != nil {
		p.add("ticket", err)
		return tenant, ticket, ""
	}
	reason = fmt.Sprintf("%s ticket %s was closed", s.Kind.Vendor(), ticket)
	if a.Reason != nil {
		r, err := a.Reason.text(body)
		switch {
		case err == nil:
			reason = r
		case !errors.Is(err, errMissing):
			p.add("reason", err)
		}
	}
	if err := checkReason(reason); err != nil {
		p.add("reason", err)
	}
	return tenant, ticket, reason
}

// Key is the idempotency key of o, so that a re-delivery never files (or
// closes) twice: the source's delivery id when the vendor gave one, else
// the tenant, the action and the ticket. It is 1..255 printable ASCII
// characters, fit for api's Idempotency-Key.
func (o Outcome) Key(source string, d Delivery) string {
	if d.ID != "" && !d.Derived {
		return "intake:" + source + ":delivery:" + d.ID
	}
	h := sha256.Sum256([]byte(o.TenantID + "\x00" + o.Action + "\x00" + o.Ticket))
	return "intake:" + source + ":ticket:" + o.Action + ":" + hex.EncodeToString(h[:16])
}
