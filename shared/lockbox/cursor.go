package lockbox

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// A cursor is an opaque position in a paged read: the sequence number to
// continue below, bound to the query it belongs to (binding: the tenant and
// the filters, in any stable text form), so that it cannot be replayed
// against another tenant or filter.

// EncodeCursor returns the cursor of position seq in the query binding
// names.
func EncodeCursor(binding string, seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(binding + strconv.FormatUint(seq, 10)))
}

// DecodeCursor returns the position cursor holds, if it was made for the
// query binding names and is at most maxLen bytes. Errors: KindInvalid.
func DecodeCursor(cursor, binding string, maxLen int) (uint64, error) {
	bad := Invalidf("cursor is not valid for this query")
	if len(cursor) > maxLen {
		return 0, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, bad
	}
	rest, ok := strings.CutPrefix(string(raw), binding)
	if !ok {
		return 0, bad
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || seq == 0 {
		return 0, bad
	}
	return seq, nil
}
