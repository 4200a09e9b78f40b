package redisstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// EventField is the one field of a stream entry: every event the scripts
// record in a tenant's stream (EventsKey) is
//
//	XADD <events> * v1 <netstrings>
//
// where <netstrings> is, in this order, op, requestId, time (Unix ms),
// actorKind, actorId, from, to, reason and supportRequest, each written as
// its length in bytes, a colon and the bytes ("20:CreateLockboxRequest").
// One field rather than nine keeps the entries small and makes reading a
// batch for the export cheap: reading was what the export spent most of its
// time on. The name carries the layout's version.
const EventField = "v1"

// eventFields is how many values an event holds.
const eventFields = 9

// Event is one audit event as the stream holds it.
type Event struct {
	Op             string
	RequestID      string
	TimeMs         int64
	ActorKind      string
	ActorID        string
	From, To       string
	Reason         string
	SupportRequest string
}

// luaEvent defines event(key, op, requestId, time, actorKind, actorId,
// from, to, reason, supportRequest) for the scripts: it appends the event to
// the stream at key in the layout of EventField. A missing value (nil or
// false) is written empty.
const luaEvent = `
local function event(key, ...)
  local parts = {}
  for i = 1, 9 do
    local v = select(i, ...)
    if not v then v = '' end
    v = tostring(v)
    parts[i] = #v .. ':' .. v
  end
  redis.call('XADD', key, '*', 'v1', table.concat(parts))
end
`

// EncodeEvent returns the value of EventField for e, as the scripts write it.
func EncodeEvent(e Event) string {
	var b strings.Builder
	for _, v := range []string{e.Op, e.RequestID, strconv.FormatInt(e.TimeMs, 10), e.ActorKind, e.ActorID, e.From, e.To, e.Reason, e.SupportRequest} {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

// DecodeEvent parses the value of EventField. The strings of the event share
// s's memory.
func DecodeEvent(s string) (Event, error) {
	var v [eventFields]string
	for i := range v {
		n, rest, ok := strings.Cut(s, ":")
		size, err := strconv.Atoi(n)
		if !ok || err != nil || size < 0 || size > len(rest) {
			return Event{}, fmt.Errorf("event value %d of %d is malformed", i+1, eventFields)
		}
		v[i], s = rest[:size], rest[size:]
	}
	if s != "" {
		return Event{}, errors.New("event has more values than its layout")
	}
	ms, err := strconv.ParseInt(v[2], 10, 64)
	if err != nil {
		return Event{}, fmt.Errorf("event time %q: %w", v[2], err)
	}
	return Event{Op: v[0], RequestID: v[1], TimeMs: ms, ActorKind: v[3], ActorID: v[4], From: v[5], To: v[6], Reason: v[7], SupportRequest: v[8]}, nil
}
