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
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

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

	line []byte // the canonical line, kept by Seal
}

// FormatTime returns t in canonical form.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Canonical returns the canonical JSON of r (without a trailing newline).
func (r Record) Canonical() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r) // a Record of strings and numbers always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// ComputeHash returns the hash r must carry.
func (r Record) ComputeHash() string {
	r.Hash = ""
	sum := sha256.Sum256(r.Canonical())
	return hex.EncodeToString(sum[:])
}

// Seal sets r's seq, prevHash and hash as the successor of (prevSeq,
// prevHash). It encodes r once: the canonical JSON with hash "" is what is
// hashed, and the same bytes with the hash filled in are the line.
func (r *Record) Seal(prevSeq uint64, prevHash string) {
	r.Seq, r.PrevHash, r.Hash = prevSeq+1, prevHash, ""
	unsealed := r.Canonical() // ends with "hash":""}
	sum := sha256.Sum256(unsealed)
	r.Hash = hex.EncodeToString(sum[:])
	line := make([]byte, 0, len(unsealed)+len(r.Hash))
	line = append(line, unsealed[:len(unsealed)-2]...)
	line = append(line, r.Hash...)
	r.line = append(line, '"', '}')
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

// Encode returns records as JSON Lines, in one allocation.
func Encode(records []Record) []byte {
	lines := make([][]byte, len(records))
	size := 0
	for i, r := range records {
		lines[i] = r.line
		if lines[i] == nil {
			lines[i] = r.Canonical()
		}
		size += len(lines[i]) + 1
	}
	out := make([]byte, 0, size)
	for _, l := range lines {
		out = append(append(out, l...), '\n')
	}
	return out
}
