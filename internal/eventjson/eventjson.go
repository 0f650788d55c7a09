// Package eventjson encodes the outbox payloads that sit on coffer's
// hottest paths by hand: wallet.balance_changed is written with every
// ledger entry, and encoding/json costs several times more. Each encoder's
// output equals encoding/json's for the same value (the root package's
// tests check it).
package eventjson

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
)

// BalanceChanged encodes the wallet.balance_changed payload by hand:
// it is written with every ledger entry, so it sits on the hottest path, and
// encoding/json costs several times more. The shape equals
// json.Marshal(coffer.BalanceChanged{...}) (a test checks it).
func BalanceChanged(e *ledger.Entry, b *wallet.Balance) []byte {
	return AppendBalanceChanged(make([]byte, 0, 512), e, b)
}

// AppendBalanceChanged appends the BalanceChanged payload to buf.
func AppendBalanceChanged(buf []byte, e *ledger.Entry, b *wallet.Balance) []byte {
	buf = append(buf, `{"entry":{"id":`...)
	buf = appendJSONString(buf, e.ID)
	buf = append(buf, `,"customer_id":`...)
	buf = appendJSONString(buf, e.CustomerID)
	buf = append(buf, `,"currency":`...)
	buf = appendJSONString(buf, e.Currency)
	buf = append(buf, `,"entry_type":`...)
	buf = appendJSONString(buf, string(e.Type))
	buf = append(buf, `,"amount":`...)
	buf = strconv.AppendInt(buf, e.Amount, 10)
	buf = append(buf, `,"balance_before":`...)
	buf = strconv.AppendInt(buf, e.BalanceBefore, 10)
	buf = append(buf, `,"balance_after":`...)
	buf = strconv.AppendInt(buf, e.BalanceAfter, 10)
	if e.Reason != "" {
		buf = append(buf, `,"reason":`...)
		buf = appendJSONString(buf, e.Reason)
	}
	if e.IdempotencyKey != "" && !ledger.IsInternalKey(e.IdempotencyKey) {
		buf = append(buf, `,"idempotency_key":`...)
		buf = appendJSONString(buf, e.IdempotencyKey)
	}
	buf = append(buf, `,"reference":{"type":`...)
	buf = appendJSONString(buf, string(e.Reference.Type))
	if e.Reference.ID != "" {
		buf = append(buf, `,"id":`...)
		buf = appendJSONString(buf, e.Reference.ID)
	}
	buf = append(buf, `},"created_at":"`...)
	buf = appendTime(buf, e.CreatedAt)
	buf = append(buf, `"},"balance":{"customer_id":`...)
	buf = appendJSONString(buf, b.CustomerID)
	buf = append(buf, `,"currency":`...)
	buf = appendJSONString(buf, b.Currency)
	buf = append(buf, `,"amount":`...)
	buf = strconv.AppendInt(buf, b.Amount, 10)
	buf = append(buf, `,"held":`...)
	buf = strconv.AppendInt(buf, b.Held, 10)
	buf = append(buf, `,"updated_at":"`...)
	buf = appendTime(buf, b.UpdatedAt)
	buf = append(buf, '"')
	if b.LowThreshold != 0 {
		buf = append(buf, `,"low_threshold":`...)
		buf = strconv.AppendInt(buf, b.LowThreshold, 10)
	}
	if b.Low {
		buf = append(buf, `,"low":true`...)
	}
	buf = append(buf, "}}"...)
	return buf
}

// appendTime appends t as time.RFC3339Nano does (what encoding/json writes
// for a time.Time, without its quotes). A UTC time within years 0-9999,
// what coffer stores, is formatted directly; anything else by the time
// package.
func appendTime(buf []byte, t time.Time) []byte {
	if t.Location() != time.UTC {
		return t.AppendFormat(buf, time.RFC3339Nano)
	}
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(buf, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	buf = append(buf,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		buf = append(buf, frac[:n]...)
	}
	return append(buf, 'Z')
}

// appendJSONString appends s as a JSON string with the same escaping as
// encoding/json (including <, > and & as \u003c etc., and invalid UTF-8 as
// U+FFFD).
func appendJSONString(buf []byte, s string) []byte {
	// Fast path: ids, codes and most reasons are plain ASCII needing no
	// escape, and are copied whole.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendJSONStringEscaped(buf, s)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

func appendJSONStringEscaped(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c == '\n':
				buf = append(buf, '\\', 'n')
			case c == '\r':
				buf = append(buf, '\\', 'r')
			case c == '\t':
				buf = append(buf, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0xFFFD && size == 1:
			buf = append(buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}
