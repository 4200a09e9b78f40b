package intake

import (
	"lockbox.dev/shared/lockbox"
)

// Mapping says where each field of a create comes from. The tenant comes
// from the source (Source.Tenant).
type Mapping struct {
	SubscriptionID *Value
	ResourceType   *Value
	ResourceIDs    *Value
	AccessLevel    *Value
	Justification  *Value
	SupportRequest *Value
	SupportCaseURL *Value
	WorkItemSource *Value
	Requester      RequesterMapping
	Duration       *Value
}

// RequesterMapping says where the requester's fields come from.
type RequesterMapping struct {
	ID          *Value
	DisplayName *Value
	Email       *Value
}

// fieldKind is how a field's value is read.
type fieldKind int

const (
	kindText  fieldKind = iota // a string
	kindList                   // resourceIds
	kindHours                  // duration
)

// field is one field of lockbox.CreateInput that a mapping fills: its name
// as in the API (and the configuration), where its Value is, and how to
// reach it in an input.
type field struct {
	name     string
	required bool
	kind     fieldKind
	value    func(*Mapping) **Value // nil for tenantId: the source's tenant
	text     func(*lockbox.CreateInput) *string
	list     func(*lockbox.CreateInput) *[]string
	hours    func(*lockbox.CreateInput) **int
}

// createFields are the fields of a create, in the order of
// lockbox.CreateInput.Validate, so problems are reported in that order.
var createFields = []field{
	{name: "tenantId", required: true, text: func(in *lockbox.CreateInput) *string { return &in.TenantID }},
	{name: "subscriptionId", value: func(m *Mapping) **Value { return &m.SubscriptionID }, text: func(in *lockbox.CreateInput) *string { return &in.SubscriptionID }},
	{name: "resourceType", required: true, value: func(m *Mapping) **Value { return &m.ResourceType }, text: func(in *lockbox.CreateInput) *string { return &in.ResourceType }},
	{name: "resourceIds", required: true, kind: kindList, value: func(m *Mapping) **Value { return &m.ResourceIDs }, list: func(in *lockbox.CreateInput) *[]string { return &in.ResourceIDs }},
	{name: "accessLevel", value: func(m *Mapping) **Value { return &m.AccessLevel }, text: func(in *lockbox.CreateInput) *string { return &in.AccessLevel }},
	{name: "justification", required: true, value: func(m *Mapping) **Value { return &m.Justification }, text: func(in *lockbox.CreateInput) *string { return &in.Justification }},
	{name: "supportRequest", required: true, value: func(m *Mapping) **Value { return &m.SupportRequest }, text: func(in *lockbox.CreateInput) *string { return &in.SupportRequest }},
	{name: "supportCaseUrl", value: func(m *Mapping) **Value { return &m.SupportCaseURL }, text: func(in *lockbox.CreateInput) *string { return &in.SupportCaseURL }},
	{name: "workItemSource", value: func(m *Mapping) **Value { return &m.WorkItemSource }, text: func(in *lockbox.CreateInput) *string { return &in.WorkItemSource }},
	{name: "requester.id", required: true, value: func(m *Mapping) **Value { return &m.Requester.ID }, text: func(in *lockbox.CreateInput) *string { return &in.Requester.ID }},
	{name: "requester.displayName", value: func(m *Mapping) **Value { return &m.Requester.DisplayName }, text: func(in *lockbox.CreateInput) *string { return &in.Requester.DisplayName }},
	{name: "requester.email", value: func(m *Mapping) **Value { return &m.Requester.Email }, text: func(in *lockbox.CreateInput) *string { return &in.Requester.Email }},
	{name: "duration", kind: kindHours, value: func(m *Mapping) **Value { return &m.Duration }, hours: func(in *lockbox.CreateInput) **int { return &in.Duration }},
}

// mapKeys are the keys of a create's map: the fields but the tenant, the
// requester's under requester.
var mapKeys = []string{"subscriptionId", "resourceType", "resourceIds", "accessLevel", "justification", "supportRequest", "supportCaseUrl", "workItemSource", "requester", "duration"}

// requesterKeys are the keys of map.requester.
var requesterKeys = []string{"id", "displayName", "email"}

// probeBase is a create that passes lockbox.CreateInput.Validate. Each
// field is checked alone by putting it into a copy of probeBase, so that
// every invalid field is named, in the domain's own words.
var probeBase = lockbox.CreateInput{
	TenantID:       "probe",
	ResourceType:   "probe",
	ResourceIDs:    []string{"probe"},
	Justification:  "probe",
	SupportRequest: "probe",
	Requester:      lockbox.Requester{ID: "probe"},
}

// copyTo sets f of dst to f of src.
func (f field) copyTo(dst, src *lockbox.CreateInput) {
	switch f.kind {
	case kindList:
		*f.list(dst) = *f.list(src)
	case kindHours:
		*f.hours(dst) = *f.hours(src)
	default:
		*f.text(dst) = *f.text(src)
	}
}

// check validates f of in alone, with the domain's rules and wording.
func (f field) check(in *lockbox.CreateInput) error {
	probe := probeBase
	f.copyTo(&probe, in)
	return probe.Validate()
}

// checkTicket validates a close's ticket with the rules of supportRequest.
func checkTicket(ticket string) error {
	probe := probeBase
	probe.SupportRequest = ticket
	return probe.Validate()
}

// checkReason validates a close's reason with the rules of a cancel.
func checkReason(reason string) error {
	return lockbox.DecisionInput{RequestID: "probe", Reason: reason}.Validate(false)
}
