package ledger_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/wallet"
)

var (
	t0 = time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Minute)
)

func bal(amount, held int64) wallet.Balance {
	return wallet.Balance{CustomerID: "cus_1", Currency: "USD", Amount: amount, Held: held, UpdatedAt: t0}
}

func credit(n int64) ledger.Request {
	return ledger.Request{Amount: n, Currency: "USD", Type: ledger.Credit, Reason: "top up"}
}

func debit(n int64) ledger.Request {
	return ledger.Request{Amount: n, Currency: "USD", Type: ledger.Debit, Reason: "purchase"}
}

func TestPostCredit(t *testing.T) {
	b := bal(500, 100)
	req := credit(250)
	req.IdempotencyKey = "key-1"
	req.Reference = ledger.Reference{Type: ledger.RefRefund, ID: "pay_9"}
	at := time.Date(2025, 5, 1, 11, 1, 0, 0, time.FixedZone("CEST", 2*3600))

	e, after, err := ledger.Post(b, req, "ent_1", at)
	require.NoError(t, err)
	require.Equal(t, ledger.Entry{
		ID: "ent_1", CustomerID: "cus_1", Currency: "USD", Type: ledger.Credit, Amount: 250,
		BalanceBefore: 500, BalanceAfter: 750, Reason: "top up", IdempotencyKey: "key-1",
		Reference: ledger.Reference{Type: ledger.RefRefund, ID: "pay_9"}, Fingerprint: req.Fingerprint(),
		CreatedAt: at.UTC(),
	}, e)
	require.Equal(t, time.UTC, e.CreatedAt.Location())
	require.Equal(t, wallet.Balance{CustomerID: "cus_1", Currency: "USD", Amount: 750, Held: 100, UpdatedAt: at.UTC()}, after)
	require.Equal(t, int64(250), e.Signed())
	require.Equal(t, bal(500, 100), b, "input balance not modified")
}

func TestPostDebit(t *testing.T) {
	e, after, err := ledger.Post(bal(500, 0), debit(120), "ent_2", t1)
	require.NoError(t, err)
	require.Equal(t, ledger.Debit, e.Type)
	require.Equal(t, int64(500), e.BalanceBefore)
	require.Equal(t, int64(380), e.BalanceAfter)
	require.Equal(t, int64(-120), e.Signed())
	require.Equal(t, int64(380), after.Amount)
	require.Equal(t, t1, after.UpdatedAt)
	require.Equal(t, ledger.RefManual, e.Reference.Type, "reference defaults to manual")
	require.NoError(t, after.Check())
}

func TestPostDebitExactlyAvailable(t *testing.T) {
	_, after, err := ledger.Post(bal(500, 0), debit(500), "e", t1)
	require.NoError(t, err)
	require.Equal(t, int64(0), after.Amount)
	require.NoError(t, after.Check())

	_, after, err = ledger.Post(bal(500, 200), debit(300), "e", t1)
	require.NoError(t, err)
	require.Equal(t, int64(200), after.Amount)
	require.Equal(t, int64(200), after.Held)
	require.Equal(t, int64(0), after.Available())
	require.NoError(t, after.Check())
}

func TestPostDebitInsufficient(t *testing.T) {
	for _, tt := range []struct {
		b     wallet.Balance
		debit int64
	}{
		{bal(0, 0), 1},
		{bal(500, 0), 501},
		{bal(500, 200), 301},         // held funds are not available
		{bal(500, 500), 1},           // everything held
		{bal(500, 0), math.MaxInt64}, // no overflow trickery
	} {
		e, after, err := ledger.Post(tt.b, debit(tt.debit), "e", t1)
		require.ErrorIs(t, err, wallet.ErrInsufficientFunds, "%+v", tt)
		require.NotErrorIs(t, err, ledger.ErrInvalid, "insufficient funds is the 400 class, not 422")
		require.Equal(t, tt.b, after, "balance returned unchanged")
		require.Equal(t, ledger.Entry{}, e)
	}
	_, _, err := ledger.Post(bal(1234, 0), debit(5000), "e", t1)
	require.Contains(t, err.Error(), "12.34", "message shows the available balance in major units")
}

func TestPostCreditOverflow(t *testing.T) {
	b := bal(math.MaxInt64-5, 0)
	_, after, err := ledger.Post(b, credit(5), "e", t1)
	require.NoError(t, err)
	require.Equal(t, int64(math.MaxInt64), after.Amount)

	e, after, err := ledger.Post(b, credit(6), "e", t1)
	require.ErrorIs(t, err, money.ErrOverflow)
	require.Equal(t, b, after)
	require.Equal(t, ledger.Entry{}, e)

	_, after, err = ledger.Post(bal(math.MaxInt64, 0), credit(math.MaxInt64), "e", t1)
	require.ErrorIs(t, err, money.ErrOverflow)
	require.Equal(t, bal(math.MaxInt64, 0), after)
}

func TestPostInvalid(t *testing.T) {
	mod := func(f func(r *ledger.Request)) ledger.Request {
		r := credit(100)
		f(&r)
		return r
	}
	tests := []struct {
		name string
		req  ledger.Request
		err  error
	}{
		{"zero amount", mod(func(r *ledger.Request) { r.Amount = 0 }), ledger.ErrInvalidAmount},
		{"negative amount", mod(func(r *ledger.Request) { r.Amount = -100 }), ledger.ErrInvalidAmount},
		{"min amount", mod(func(r *ledger.Request) { r.Amount = math.MinInt64 }), ledger.ErrInvalidAmount},
		{"negative debit", mod(func(r *ledger.Request) { r.Amount = -1; r.Type = ledger.Debit }), ledger.ErrInvalidAmount},
		{"empty type", mod(func(r *ledger.Request) { r.Type = "" }), ledger.ErrInvalidType},
		{"upper-case type", mod(func(r *ledger.Request) { r.Type = "CREDIT" }), ledger.ErrInvalidType},
		{"other type", mod(func(r *ledger.Request) { r.Type = "refund" }), ledger.ErrInvalidType},
		{"long reason", mod(func(r *ledger.Request) { r.Reason = strings.Repeat("é", ledger.MaxReasonLen+1) }), ledger.ErrInvalidReason},
		{"invalid utf-8 reason", mod(func(r *ledger.Request) { r.Reason = "bad\xff" }), ledger.ErrInvalidReason},
		{"long key", mod(func(r *ledger.Request) { r.IdempotencyKey = strings.Repeat("k", ledger.MaxKeyLen+1) }), ledger.ErrInvalidKey},
		{"empty currency", mod(func(r *ledger.Request) { r.Currency = "" }), money.ErrUnknownCurrency},
		{"unknown currency", mod(func(r *ledger.Request) { r.Currency = "ABC" }), money.ErrUnknownCurrency},
	}
	for _, tt := range tests {
		b := bal(1000, 10)
		e, after, err := ledger.Post(b, tt.req, "e", t1)
		require.ErrorIs(t, err, tt.err, tt.name)
		require.Equal(t, b, after, tt.name)
		require.Equal(t, ledger.Entry{}, e, tt.name)
		require.ErrorIs(t, tt.req.Validate(), tt.err, tt.name)
		if !errors.Is(tt.err, money.ErrUnknownCurrency) {
			require.ErrorIs(t, err, ledger.ErrInvalid, "%s: the 422 class", tt.name)
		}
	}
}

func TestPostLimitsAreInclusive(t *testing.T) {
	r := credit(1)
	r.Reason = strings.Repeat("é", ledger.MaxReasonLen)
	r.IdempotencyKey = strings.Repeat("k", ledger.MaxKeyLen)
	require.NoError(t, r.Validate())
	e, _, err := ledger.Post(bal(0, 0), r, "e", t1)
	require.NoError(t, err)
	require.Equal(t, r.Reason, e.Reason)
	require.Equal(t, r.IdempotencyKey, e.IdempotencyKey)
}

// A request in one currency must never move a balance in another: the
// entry would record INR minor units as USD.
func TestPostCurrencyMismatch(t *testing.T) {
	b := bal(1000, 0)
	for _, typ := range []ledger.Type{ledger.Credit, ledger.Debit} {
		req := ledger.Request{Amount: 100, Currency: "INR", Type: typ}
		e, after, err := ledger.Post(b, req, "e", t1)
		require.ErrorIs(t, err, money.ErrCurrencyMismatch, "%s INR on a USD wallet", typ)
		require.Equal(t, b, after)
		require.Equal(t, ledger.Entry{}, e)
	}
}

func TestPostLowerCaseCurrency(t *testing.T) {
	req := credit(100)
	req.Currency = "usd"
	e, after, err := ledger.Post(bal(0, 0), req, "e", t1)
	require.NoError(t, err)
	require.Equal(t, "USD", e.Currency, "the entry takes the wallet's canonical code")
	require.Equal(t, int64(100), after.Amount)
}

func TestFingerprint(t *testing.T) {
	base := ledger.Request{Amount: 100, Currency: "USD", Type: ledger.Credit, Reason: "r",
		IdempotencyKey: "k", Reference: ledger.Reference{Type: ledger.RefPayment, ID: "pay_1"}}
	fp := base.Fingerprint()
	require.Len(t, fp, 32)
	require.Equal(t, fp, base.Fingerprint(), "deterministic")
	same := base
	require.Equal(t, fp, same.Fingerprint(), "identical requests")

	changes := map[string]func(r *ledger.Request){
		"amount":       func(r *ledger.Request) { r.Amount = 101 },
		"amount sign":  func(r *ledger.Request) { r.Amount = -100 },
		"currency":     func(r *ledger.Request) { r.Currency = "INR" },
		"type":         func(r *ledger.Request) { r.Type = ledger.Debit },
		"reason":       func(r *ledger.Request) { r.Reason = "r2" },
		"reason empty": func(r *ledger.Request) { r.Reason = "" },
		"ref type":     func(r *ledger.Request) { r.Reference.Type = ledger.RefRefund },
		"ref id":       func(r *ledger.Request) { r.Reference.ID = "pay_2" },
		"ref id empty": func(r *ledger.Request) { r.Reference.ID = "" },
		// Field boundaries are unambiguous: moving text from one field to the
		// next is a different request.
		"shift reason into ref type": func(r *ledger.Request) { r.Reason = ""; r.Reference.Type = "r" + r.Reference.Type },
		"shift ref type into id":     func(r *ledger.Request) { r.Reference.Type = "paymen"; r.Reference.ID = "tpay_1" },
	}
	seen := map[string]string{fp: "base"}
	for name, f := range changes {
		r := base
		f(&r)
		got := r.Fingerprint()
		prev, dup := seen[got]
		require.False(t, dup, "%s has the same fingerprint as %s", name, prev)
		seen[got] = name
	}

	// The key is what fingerprints are compared under, not part of the
	// content: a replay under the same key must match.
	other := base
	other.IdempotencyKey = "another"
	require.Equal(t, fp, other.Fingerprint())
}

// TestFingerprintStable pins fingerprints: they are stored with every
// entry, so a replay after an upgrade must compute the same ones.
func TestFingerprintStable(t *testing.T) {
	for want, r := range map[string]ledger.Request{
		"ae5553572df7be97f631faad2522cec5": {Amount: 100, Currency: "USD", Type: ledger.Credit, Reason: "r",
			IdempotencyKey: "k", Reference: ledger.Reference{Type: ledger.RefPayment, ID: "pay_1"}},
		"ed0fb7e7aa44d85ec16f8a2071a209f8": {Amount: -7, Currency: "INR", Type: ledger.Debit,
			Reference: ledger.Reference{Type: ledger.RefManual}},
		"15540f6c670a5496922242df470aa7f2": {Amount: 1 << 62, Currency: "EUR", Type: ledger.Credit,
			Reason: strings.Repeat("é", 500), Reference: ledger.Reference{Type: ledger.RefRefund, ID: strings.Repeat("x", 255)}},
	} {
		require.Equal(t, want, r.Fingerprint())
	}
}

func BenchmarkFingerprint(b *testing.B) {
	r := ledger.Request{Amount: 100, Currency: "USD", Type: ledger.Credit, Reason: "bench",
		IdempotencyKey: "k1", Reference: ledger.Reference{Type: ledger.RefManual}}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Fingerprint()
	}
}

func TestEntrySigned(t *testing.T) {
	require.Equal(t, int64(7), ledger.Entry{Type: ledger.Credit, Amount: 7}.Signed())
	require.Equal(t, int64(-7), ledger.Entry{Type: ledger.Debit, Amount: 7}.Signed())
}

func TestSentinels(t *testing.T) {
	for _, e := range []error{ledger.ErrInvalidAmount, ledger.ErrInvalidType, ledger.ErrInvalidReason, ledger.ErrInvalidKey} {
		require.ErrorIs(t, e, ledger.ErrInvalid)
	}
	for _, e := range []error{ledger.ErrIdempotencyConflict, ledger.ErrNotFound, ledger.ErrHoldNotFound, ledger.ErrHoldNotPending} {
		require.NotErrorIs(t, e, ledger.ErrInvalid, "%v is not the 422 class", e)
	}
}
