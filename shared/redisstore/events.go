package redisstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// EventField is the one field of a stream entry: every event the scripts
// record in a tenant's stream (EventsKey) is
//
//	XADD <events> * v2 <netstrings>
//
// where <netstrings> is, in this order, seq, op, requestId, time (Unix ms),
// actorKind, actorId, from, to, reason and supportRequest, each written as
// its length in bytes, a colon and the bytes ("20:CreateLockboxRequest").
// One field rather than ten keeps the entries small and makes reading a
// batch for the export cheap. The name carries the layout's version.
const EventField = "v2"

// EncodeEvent returns the value of EventField for e, as the scripts write it
// (tests and benchmarks fill streams with it).
func EncodeEvent(e lockbox.Event) string {
	var b strings.Builder
	for _, v := range []string{strconv.FormatUint(e.Seq, 10), e.OperationName, e.RequestID, strconv.FormatInt(e.Time.UnixMilli(), 10),
		string(e.Actor.Kind), e.Actor.ID, string(e.FromStatus), string(e.ToStatus), e.Reason, e.SupportRequest} {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

// decodeEntry reads one stream entry's fields, in EventField's layout, into
// an event of tenant.
func decodeEntry(tenant string, fields []any) (lockbox.Event, error) {
	if len(fields) != 2 || fields[0] != EventField {
		return lockbox.Event{}, fmt.Errorf("event entry is not one %s field", EventField)
	}
	value, ok := fields[1].(string)
	if !ok {
		return lockbox.Event{}, fmt.Errorf("event value of type %T", fields[1])
	}
	var f [10]string
	if err := splitNetstrings(f[:], value); err != nil {
		return lockbox.Event{}, fmt.Errorf("event: %w", err)
	}
	seq, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil || seq == 0 {
		return lockbox.Event{}, fmt.Errorf("event seq %q is not a positive number", f[0])
	}
	ms, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return lockbox.Event{}, fmt.Errorf("event time %q: %w", f[3], err)
	}
	return lockbox.Event{Seq: seq, OperationName: f[1], RequestID: f[2], Time: time.UnixMilli(ms).UTC(), TenantID: tenant,
		Actor:      lockbox.Actor{Kind: lockbox.ActorKind(f[4]), ID: f[5]},
		FromStatus: lockbox.Status(f[6]), ToStatus: lockbox.Status(f[7]), Reason: f[8], SupportRequest: f[9]}, nil
}
