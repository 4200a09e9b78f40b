// Package audit turns the per-tenant event streams into a tamper-evident
// archive: events are numbered per tenant (seq 1, 2, 3… with no gaps), chained
// with SHA-256, and written as JSON Lines objects whose keys derive from the
// events, so a retried export rewrites the same object.
//
// # Hash chain
//
// Each line is the canonical JSON of one lockbox.Event: its fields in the
// order seq, time, tenantId, requestId, operationName, actor {kind, id},
// fromStatus, toStatus, reason, supportRequest, prevHash, hash; no
// insignificant white space; strings escaped as JSON requires and nothing
// more (no HTML escaping); time in RFC 3339 UTC with millisecond precision
// ("2026-11-27T09:00:00.000Z").
//
//	hash = lowercase hex SHA-256 of the canonical JSON with hash set to ""
//	prevHash = the hash of the tenant's previous event; 64 zeros for seq 1
//
// Altering, removing, inserting or reordering any event breaks the chain from
// that event on.
//
// # Object layout
//
//	audit/tenant=<tenantId>/date=<YYYY-MM-DD>/<firstSeq>-<lastSeq>.jsonl
//
// with seq zero-padded to 20 digits and the date the (UTC) date of the
// events in the object: Hive-style partitions for Athena, Trino or DuckDB.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"lockbox.dev/shared/lockbox"
)

// ZeroHash is the prevHash of a tenant's first event.
var ZeroHash = strings.Repeat("0", 64)

// TimeFormat is the canonical form of an event's time.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Record is an event as archived: lockbox.Event with its time in canonical
// form. Its field order is the canonical order.
type Record struct {
	Seq            uint64        `json:"seq"`
	Time           string        `json:"time"`
	TenantID       string        `json:"tenantId"`
	RequestID      string        `json:"requestId"`
	OperationName  string        `json:"operationName"`
	Actor          lockbox.Actor `json:"actor"`
	FromStatus     string        `json:"fromStatus"`
	ToStatus       string        `json:"toStatus"`
	Reason         string        `json:"reason"`
	SupportRequest string        `json:"supportRequest"`
	PrevHash       string        `json:"prevHash"`
	Hash           string        `json:"hash"`
}

// FormatTime returns t in canonical form: what t.UTC().Format(TimeFormat)
// returns, without parsing the layout for every event (a test holds it to
// that).
func FormatTime(t time.Time) string {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.Format(TimeFormat)
	}
	h, mi, sec := t.Clock()
	var b [24]byte
	digits(b[0:4], y)
	b[4] = '-'
	digits(b[5:7], int(mo))
	b[7] = '-'
	digits(b[8:10], d)
	b[10] = 'T'
	digits(b[11:13], h)
	b[13] = ':'
	digits(b[14:16], mi)
	b[16] = ':'
	digits(b[17:19], sec)
	b[19] = '.'
	digits(b[20:23], t.Nanosecond()/1e6)
	b[23] = 'Z'
	return string(b[:])
}

// digits writes n into b as len(b) decimal digits, zero-padded.
func digits(b []byte, n int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}

// Canonical returns the canonical JSON of r (without a trailing newline).
func (r Record) Canonical() []byte { return r.appendCanonical(make([]byte, 0, 512)) }

// appendCanonical appends the canonical JSON of r to b. It writes what
// encoding/json writes for a Record with HTML escaping off (a test holds it
// to that), field by field and without reflection: the export seals every
// event with it.
func (r *Record) appendCanonical(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = appendField(b, `,"time":`, r.Time)
	b = appendField(b, `,"tenantId":`, r.TenantID)
	b = appendField(b, `,"requestId":`, r.RequestID)
	b = appendField(b, `,"operationName":`, r.OperationName)
	b = appendField(b, `,"actor":{"kind":`, string(r.Actor.Kind))
	b = appendField(b, `,"id":`, r.Actor.ID)
	b = appendField(b, `},"fromStatus":`, r.FromStatus)
	b = appendField(b, `,"toStatus":`, r.ToStatus)
	b = appendField(b, `,"reason":`, r.Reason)
	b = appendField(b, `,"supportRequest":`, r.SupportRequest)
	b = appendField(b, `,"prevHash":`, r.PrevHash)
	b = appendField(b, `,"hash":`, r.Hash)
	return append(b, '}')
}

func appendField(b []byte, name, value string) []byte {
	return appendString(append(b, name...), value)
}

const hexDigits = "0123456789abcdef"

// safeASCII[c] is true for the ASCII bytes a JSON string holds as they are.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping off: quote, backslash and control characters escaped (\n,
// \r, \t, \b, \f short, others as \u00XX), U+2028 and U+2029 escaped,
// invalid UTF-8 replaced by \ufffd, everything else as is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// ComputeHash returns the hash r must carry.
func (r Record) ComputeHash() string {
	r.Hash = ""
	sum := sha256.Sum256(r.Canonical())
	return hex.EncodeToString(sum[:])
}

// appendSealed sets r's seq, prevHash and hash as the successor of
// (prevSeq, prevHash) and appends its line, with a newline, to b. It encodes r once: the canonical JSON with hash "" is what is
// hashed, and the same bytes with the hash filled in are the line.
func (r *Record) appendSealed(b []byte, prevSeq uint64, prevHash string) []byte {
	r.Seq, r.PrevHash, r.Hash = prevSeq+1, prevHash, ""
	start := len(b)
	b = r.appendCanonical(b) // ends with "hash":""}
	sum := sha256.Sum256(b[start:])
	b = hex.AppendEncode(b[:len(b)-2], sum[:])
	r.Hash = string(b[len(b)-64:])
	return append(b, '"', '}', '\n')
}

// Date returns the partition date (UTC) of r.
func (r Record) Date() string { return r.Time[:10] }

// ObjectKey returns the key of the object holding seqs first..last of tenant
// on date.
func ObjectKey(tenant, date string, first, last uint64) string {
	return fmt.Sprintf("%s%s/%020d-%020d.jsonl", TenantPrefix(tenant), "date="+date, first, last)
}

// TenantPrefix is the key prefix of every object of tenant.
func TenantPrefix(tenant string) string { return "audit/tenant=" + tenant + "/" }

var keyPattern = regexp.MustCompile(`^audit/tenant=([A-Za-z0-9._-]{1,64})/date=(\d{4}-\d{2}-\d{2})/(\d{20})-(\d{20})\.jsonl$`)

// Key is a parsed object key.
type Key struct {
	Tenant, Date string
	First, Last  uint64
}

// ParseKey parses an object key of the archive layout.
func ParseKey(key string) (Key, bool) {
	m := keyPattern.FindStringSubmatch(key)
	if m == nil {
		return Key{}, false
	}
	first, _ := strconv.ParseUint(m[3], 10, 64)
	last, _ := strconv.ParseUint(m[4], 10, 64)
	return Key{Tenant: m[1], Date: m[2], First: first, Last: last}, first >= 1 && last >= first
}
