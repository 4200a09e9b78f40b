package redisstore

import (
	"errors"
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
// batch for the export cheap. The name carries the layout's version: "v1"
// entries (written before seqs were assigned at append) lack the seq, and
// the oldest entries hold one field per value; both are still read.
const EventField = "v2"

const eventFieldV1 = "v1"

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

// decodeEntry reads one stream entry's fields into an event of tenant. Seq
// is 0 for entries written before seqs were assigned at append.
func decodeEntry(tenant string, fields []any) (lockbox.Event, error) {
	if len(fields) == 2 {
		name, _ := fields[0].(string)
		value, _ := fields[1].(string)
		switch name {
		case EventField:
			return decodeNetstrings(tenant, value, true)
		case eventFieldV1:
			return decodeNetstrings(tenant, value, false)
		}
	}
	return decodeFieldPerValue(tenant, fields)
}

func decodeNetstrings(tenant, s string, withSeq bool) (lockbox.Event, error) {
	n := 9
	if withSeq {
		n = 10
	}
	var v [10]string
	for i := range n {
		size, rest, ok := strings.Cut(s, ":")
		l, err := strconv.Atoi(size)
		if !ok || err != nil || l < 0 || l > len(rest) {
			return lockbox.Event{}, fmt.Errorf("event value %d of %d is malformed", i+1, n)
		}
		v[i], s = rest[:l], rest[l:]
	}
	if s != "" {
		return lockbox.Event{}, errors.New("event has more values than its layout")
	}
	f := v[:]
	var seq uint64
	if withSeq {
		var err error
		if seq, err = strconv.ParseUint(f[0], 10, 64); err != nil || seq == 0 {
			return lockbox.Event{}, fmt.Errorf("event seq %q is not a positive number", f[0])
		}
		f = f[1:]
	}
	ms, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return lockbox.Event{}, fmt.Errorf("event time %q: %w", f[2], err)
	}
	return lockbox.Event{Seq: seq, OperationName: f[0], RequestID: f[1], Time: time.UnixMilli(ms).UTC(), TenantID: tenant,
		Actor:      lockbox.Actor{Kind: lockbox.ActorKind(f[3]), ID: f[4]},
		FromStatus: lockbox.Status(f[5]), ToStatus: lockbox.Status(f[6]), Reason: f[7], SupportRequest: f[8]}, nil
}

// decodeFieldPerValue reads the oldest layout: one stream field per value.
func decodeFieldPerValue(tenant string, fields []any) (lockbox.Event, error) {
	e := lockbox.Event{TenantID: tenant}
	timeErr := errors.New("event without a time")
	for j := 0; j+1 < len(fields); j += 2 {
		k, _ := fields[j].(string)
		v, _ := fields[j+1].(string)
		switch k {
		case "op":
			e.OperationName = v
		case "requestId":
			e.RequestID = v
		case "time":
			var ms int64
			ms, timeErr = strconv.ParseInt(v, 10, 64)
			e.Time = time.UnixMilli(ms).UTC()
		case "actorKind":
			e.Actor.Kind = lockbox.ActorKind(v)
		case "actorId":
			e.Actor.ID = v
		case "from":
			e.FromStatus = lockbox.Status(v)
		case "to":
			e.ToStatus = lockbox.Status(v)
		case "reason":
			e.Reason = v
		case "supportRequest":
			e.SupportRequest = v
		}
	}
	return e, timeErr
}
