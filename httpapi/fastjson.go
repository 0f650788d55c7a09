package httpapi

import (
	"strconv"
	"time"
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
// declaration order, low_balance_threshold omitted when 0.
func (w CustomerWallet) appendJSON(b []byte) ([]byte, bool) {
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
