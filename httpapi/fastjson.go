package httpapi

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonAppender is an answer type with a hand-written encoding for a hot
// route: appendJSON appends exactly what encoding/json's Marshal writes for
// the value (fastjson_test.go compares the two), or reports false when the
// value holds something it does not encode itself (a string to escape, a
// time Marshal refuses), for writeJSON to use encoding/json instead.
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, bool)
}

// appendJSON encodes the wallet as encoding/json does: the fields in
// declaration order, low_balance_threshold omitted when 0. A wallet with
// a ledger_entry (the answer of an entry with credit terms) is left to
// encoding/json.
func (w CustomerWallet) appendJSON(b []byte) ([]byte, bool) {
	if w.LedgerEntry != nil {
		return b, false
	}
	ok := true
	b = append(b, `{"balance":`...)
	b = strconv.AppendInt(b, w.Balance, 10)
	b = append(b, `,"created_at":`...)
	b, ok = appendJSONTime(b, w.CreatedAt, ok)
	b = append(b, `,"currency":`...)
	b, ok = appendJSONString(b, w.Currency, ok)
	b = append(b, `,"customer_id":`...)
	b, ok = appendJSONString(b, w.CustomerID, ok)
	b = append(b, `,"updated_at":`...)
	b, ok = appendJSONTime(b, w.UpdatedAt, ok)
	b = append(b, `,"held":`...)
	b = strconv.AppendInt(b, w.Held, 10)
	b = append(b, `,"available":`...)
	b = strconv.AppendInt(b, w.Available, 10)
	if w.LowThreshold != 0 {
		b = append(b, `,"low_balance_threshold":`...)
		b = strconv.AppendInt(b, w.LowThreshold, 10)
	}
	return append(b, '}'), ok
}

// appendJSONString appends s quoted when no byte of it needs escaping under
// encoding/json's rules (HTML escaping on): printable ASCII other than
// '"', '\\', '<', '>' and '&'. Anything else reports false.
func appendJSONString(b []byte, s string, ok bool) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), ok
}

// appendJSONTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, trailing zeros cut), for the years it accepts. A year
// outside 0..9999 or a zone offset of 24 hours or more (MarshalJSON
// refuses both), or an offset that is not whole minutes, reports false.
func appendJSONTime(b []byte, t time.Time, ok bool) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), ok
}

// decodeFast decodes the common shape of a ledger-entry body without
// reflection: one flat object whose keys are the field names exactly as
// written in the struct tags, each at most once, amount and priority
// integers, the others strings without escapes. It reports false for anything else (a
// null, an escape, another key or spelling, a nested value, a syntax
// error), leaving in for decodeJSON to fill from scratch with its answers
// and errors. When it reports true, in is what decodeJSON decodes
// (fastjson_test.go compares the two).
func (in *ledgerEntryCreate) decodeFast(body []byte) bool {
	// The strings are cut from one copy of the body, and the optional ones
	// point into one array: two allocations, not one per field.
	var text string
	var opt *[5]string
	var seen uint16
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return false // {}: the required fields are missing; decodeJSON answers
	}
	for {
		k0, k1, ok := scanPlainString(body, i)
		if !ok {
			return false
		}
		key := body[k0:k1] // compared without a conversion
		i = skipSpace(body, k1+1)
		if i >= len(body) || body[i] != ':' {
			return false
		}
		i = skipSpace(body, i+1)
		var bit uint16
		if string(key) == "amount" || string(key) == "priority" {
			n, j, ok := scanInt(body, i)
			if !ok {
				return false
			}
			if string(key) == "amount" {
				in.Amount, bit = Int64{V: n, Set: true}, 1
			} else {
				in.Priority, bit = Int64{V: n, Set: true}, 64
			}
			i = j
		} else {
			v0, v1, ok := scanPlainString(body, i)
			if !ok {
				return false
			}
			i = v1 + 1
			if text == "" {
				text = string(body)
			}
			v := text[v0:v1]
			if opt == nil && string(key) != "currency" && string(key) != "entry_type" {
				opt = new([5]string)
			}
			switch string(key) {
			case "currency":
				in.Currency, bit = v, 2
			case "entry_type":
				in.EntryType, bit = v, 4
			case "idempotency_key":
				opt[0] = v
				in.IdempotencyKey, bit = &opt[0], 8
			case "reason":
				opt[1] = v
				in.Reason, bit = &opt[1], 16
			case "reference_id":
				opt[2] = v
				in.ReferenceID, bit = &opt[2], 32
			case "credit_kind":
				opt[3] = v
				in.CreditKind, bit = &opt[3], 128
			case "expires_at":
				opt[4] = v
				in.ExpiresAt, bit = &opt[4], 256
			default:
				return false
			}
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		i = skipSpace(body, i)
		if i >= len(body) {
			return false
		}
		if body[i] == '}' {
			return skipSpace(body, i+1) == len(body)
		}
		if body[i] != ',' {
			return false
		}
		i = skipSpace(body, i+1)
	}
}

// skipSpace skips JSON whitespace from i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanPlainString reads a JSON string at i that has no escapes and no
// control characters, and is valid UTF-8; it returns where its text starts
// and where it ends (the index of the closing quote).
func scanPlainString(b []byte, i int) (int, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[i+1:j]) {
				return 0, 0, false
			}
			return i + 1, j, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return 0, 0, false
}

// scanInt reads a JSON integer (no fraction, no exponent, no leading zero)
// within int64 at i, followed by a byte that cannot continue a number.
func scanInt(b []byte, i int) (int64, int, bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	d := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == d || j-d > 19 || (b[d] == '0' && j > d+1) || (j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E')) {
		return 0, 0, false
	}
	var u uint64 // 19 digits fit
	for _, c := range b[d:j] {
		u = u*10 + uint64(c-'0')
	}
	switch {
	case d == i && u <= math.MaxInt64:
		return int64(u), j, true
	case d > i && u <= 1<<63:
		return -int64(u), j, true // -(1<<63) wraps to MinInt64, as it should
	}
	return 0, 0, false
}
