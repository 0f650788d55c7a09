package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// checkWalletJSON asserts appendJSON writes encoding/json's bytes for w, or
// declines; it reports whether it encoded.
func checkWalletJSON(t *testing.T, w CustomerWallet) bool {
	t.Helper()
	want, err := json.Marshal(w)
	got, ok := w.appendJSON([]byte("prefix"))
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("appendJSON encoded %+v, which json.Marshal refuses (%v): %s", w, err, got)
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("appendJSON(%+v)\n got %s\nwant prefix%s", w, got, want)
	}
	return true
}

// TestWalletAppendJSONEqualsMarshal compares the wallet answer's
// hand-written encoding with encoding/json's, on edge cases and random
// wallets, and checks it declines what it cannot encode itself.
func TestWalletAppendJSONEqualsMarshal(t *testing.T) {
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ist := time.FixedZone("IST", 5*3600+30*60)
	odd := time.FixedZone("LMT", -(4*3600 + 56*60 + 2)) // not whole minutes
	w0 := CustomerWallet{Balance: 100, CreatedAt: base, Currency: "USD", CustomerID: "cus_1", UpdatedAt: base, Held: 0, Available: 100}
	encoded := []CustomerWallet{
		w0,
		{},
		{Balance: math.MinInt64, Held: math.MaxInt64, Available: -1, LowThreshold: math.MinInt64, Currency: "INR", CustomerID: "cus_x",
			CreatedAt: base.Add(123456789), UpdatedAt: base.Add(120 * time.Millisecond).In(ist)},
		{LowThreshold: 5, CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), UpdatedAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{CustomerID: "cus_ !#$%'()*+,-./:;=?@[]^_`{|}~", CreatedAt: base.In(time.FixedZone("", -23*3600-59*60))},
		{CreatedAt: time.Now(), UpdatedAt: time.Now().In(time.Local)}, // a monotonic reading, the local zone
	}
	for _, w := range encoded {
		if !checkWalletJSON(t, w) {
			t.Errorf("appendJSON declined %+v", w)
		}
	}
	declined := []CustomerWallet{
		{CustomerID: `a"b`}, {CustomerID: `a\b`}, {CustomerID: "<script>"}, {CustomerID: "a&b"}, {CustomerID: "a>b"},
		{Currency: "é"}, {Currency: "\x00"}, {Currency: "\x7f"}, {Currency: "\u2028"}, {Currency: "\xff"},
		{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{UpdatedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{CreatedAt: base.In(time.FixedZone("", 24*3600))},
		{CreatedAt: base.In(odd)},
		{LedgerEntry: &LedgerEntry{ID: "le_1"}}, // the answer of an entry with terms
	}
	for _, w := range declined {
		if checkWalletJSON(t, w) {
			t.Errorf("appendJSON encoded %+v, which it must leave to encoding/json", w)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	n := 0
	for range 20000 {
		w := CustomerWallet{Balance: int64(r.Uint64()), Held: int64(r.Uint64()) >> r.IntN(64), Available: r.Int64N(1000) - 500,
			LowThreshold: r.Int64N(3) - 1, Currency: randString(r), CustomerID: randString(r),
			CreatedAt: randTime(r), UpdatedAt: randTime(r)}
		if checkWalletJSON(t, w) {
			n++
		}
	}
	if n < 5000 {
		t.Fatalf("only %d of 20000 random wallets took the fast path", n)
	}
}

func randString(r *rand.Rand) string {
	const alphabet = "abcXYZ019_-. \"\\<>&\x01\x7fé\u2028"
	b := make([]rune, r.IntN(8))
	for i := range b {
		if r.IntN(10) == 0 {
			b[i] = []rune(alphabet)[r.IntN(len([]rune(alphabet)))]
		} else {
			b[i] = rune('a' + r.IntN(26))
		}
	}
	return string(b)
}

func randTime(r *rand.Rand) time.Time {
	t := time.Unix(r.Int64N(330e9)-70e9, r.Int64N(1e9)) // years -250 to 12400
	if r.IntN(4) == 0 {
		t = t.Truncate(time.Duration(r.Int64N(int64(time.Second))) + 1)
	}
	return t.In(time.FixedZone("", (r.IntN(97)-48)*30*60+r.IntN(8)/7*r.IntN(60)))
}

// FuzzWalletAppendJSON: for any wallet, appendJSON writes encoding/json's
// bytes or declines.
func FuzzWalletAppendJSON(f *testing.F) {
	f.Add(int64(100), int64(0), int64(0), "USD", "cus_1", int64(1772442000), int64(0), 0)
	f.Add(int64(-5), int64(7), int64(3), "<&>", "a\"b", int64(-62167219200), int64(999999999), 19800)
	f.Fuzz(func(t *testing.T, bal, held, low int64, cur, id string, sec, nsec int64, off int) {
		at := time.Unix(sec, nsec).In(time.FixedZone("", off))
		checkWalletJSON(t, CustomerWallet{Balance: bal, Held: held, Available: bal - held, LowThreshold: low,
			Currency: cur, CustomerID: id, CreatedAt: at, UpdatedAt: at.Add(time.Duration(nsec))})
	})
}

// TestWriteJSONAppenderAndFallback: writeJSON and encode give the same
// bytes as encoding/json's Encoder for a wallet on the fast path and for
// one that falls back.
func TestWriteJSONAppenderAndFallback(t *testing.T) {
	h := &Handler{}
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, w := range []CustomerWallet{
		{Balance: 1, Currency: "USD", CustomerID: "cus_1", CreatedAt: base, UpdatedAt: base, Available: 1},
		{Balance: 1, Currency: "USD", CustomerID: "cus_<1>", CreatedAt: base, UpdatedAt: base, Available: 1},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(w); err != nil {
			t.Fatal(err)
		}
		for range 3 { // pooled buffers are reused
			rec := httptest.NewRecorder()
			h.writeJSON(rec, 0, w)
			if rec.Code != 200 || rec.Body.String() != want.String() || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("writeJSON: %d %q %q, want 200 %q", rec.Code, rec.Header(), rec.Body, want.String())
			}
			if status, b := h.encode(0, w); status != 200 || string(b) != want.String() {
				t.Fatalf("encode: %d %q, want 200 %q", status, b, want.String())
			}
		}
	}
}

// checkDecodeFast asserts that when decodeFast takes body, decodeJSON
// decodes it without error into the same value.
func checkDecodeFast(t *testing.T, body string) bool {
	t.Helper()
	var fast ledgerEntryCreate
	if !fast.decodeFast([]byte(body)) {
		return false
	}
	var slow ledgerEntryCreate
	if err := decodeJSON([]byte(body), &slow); err != nil {
		t.Fatalf("decodeFast took %q, which decodeJSON refuses: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decodeFast(%q) = %+v, decodeJSON = %+v", body, fast, slow)
	}
	return true
}

// TestLedgerEntryDecodeFastEqualsDecodeJSON: the ledger-entry body's
// fast decoding gives decodeJSON's value, and leaves everything it does
// not handle exactly (nulls, escapes, other keys, duplicates, numbers
// beyond int64, syntax errors) to decodeJSON.
func TestLedgerEntryDecodeFastEqualsDecodeJSON(t *testing.T) {
	taken := []string{
		`{"amount":1,"currency":"USD","entry_type":"credit","reason":"bench","idempotency_key":"k_1"}`,
		" {\n\t\"amount\" : -9223372036854775808 , \"currency\":\"INR\"}\r\n",
		`{"amount":9223372036854775807}`, `{"amount":0}`, `{"amount":-0}`,
		`{"currency":"","entry_type":"debit","reference_id":"ref é ✓","reason":""}`,
		`{"entry_type":"credit"}`,
		// The credit terms (issue 15).
		`{"amount":1000,"currency":"USD","entry_type":"credit","credit_kind":"granted","priority":0,"expires_at":"2026-04-01T09:00:00Z"}`,
		`{"priority":-1000,"credit_kind":"bonus","expires_at":"not a time"}`, `{"priority":9223372036854775807}`,
		`{"expires_at":"","credit_kind":""}`, `{"reference_id":"r","priority":5,"reason":"x","idempotency_key":"k","expires_at":"2026-04-01T14:30:00+05:30"}`,
	}
	for _, b := range taken {
		if !checkDecodeFast(t, b) {
			t.Errorf("decodeFast declined %q", b)
		}
	}
	declined := []string{
		``, `{}`, ` `, `null`, `[]`, `{"amount":1`, `{"amount":1}x`, `{"amount":1}{}`, `{"amount":1,}`, `{,}`,
		`{"amount":01}`, `{"amount":1.0}`, `{"amount":1e3}`, `{"amount":9223372036854775808}`, `{"amount":-9223372036854775809}`,
		`{"amount":12345678901234567890}`, `{"amount":"1"}`, `{"amount":null}`, `{"amount":-}`, `{"amount":+1}`,
		`{"Amount":1}`, `{"amount":1,"amount":2}`, `{"currency":"USD","currency":"EUR"}`, `{"other":"x"}`,
		`{"currency":"U\u0053D"}`, `{"currency":"a\"b"}`, "{\"currency\":\"a\tb\"}", "{\"currency\":\"\xff\"}",
		`{"priority":1.5}`, `{"priority":"1"}`, `{"priority":null}`, `{"priority":1e2}`, `{"priority":1,"priority":2}`,
		`{"credit_kind":null}`, `{"credit_kind":"gr\u0061nted"}`, `{"credit_kind":1}`, `{"credit_kind":"a","credit_kind":"a"}`,
		`{"expires_at":null}`, `{"expires_at":1}`, `{"expires_at":"2026-04-01T09:00:00Z","expires_at":"2026-04-01T09:00:00Z"}`,
		`{"Priority":1}`, `{"credit_Kind":"paid"}`,
		`{"reason":null}`, `{"reason":1}`, `{"reason":{"a":1}}`, `{"reason":"a"`, `{"reason" "a"}`, `{amount:1}`,
	}
	for _, b := range declined {
		if checkDecodeFast(t, b) {
			t.Errorf("decodeFast took %q, which it must leave to decodeJSON", b)
		}
	}
}

// FuzzLedgerEntryDecodeFast: whatever decodeFast takes, decodeJSON
// decodes to the same value.
func FuzzLedgerEntryDecodeFast(f *testing.F) {
	f.Add(`{"amount":1,"currency":"USD","entry_type":"credit","reason":"bench","idempotency_key":"k_1"}`)
	f.Add(`{"amount":-12,"reference_id":"r","currency":"INR"}`)
	f.Add(` {"entry_type" : "debit" } `)
	f.Add(`{"amount":1,"credit_kind":"granted","priority":-3,"expires_at":"2026-04-01T09:00:00Z"}`)
	f.Fuzz(func(t *testing.T, body string) { checkDecodeFast(t, body) })
}
