package ledger_test

import (
	"errors"
	"math"
	"testing"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/wallet"
)

// FuzzLedgerRequest posts random requests to random valid balances: Post
// never panics, a failure leaves the balance exactly as it was and is one of
// the documented errors, and a success is a consistent entry and balance.
func FuzzLedgerRequest(f *testing.F) {
	f.Add(int64(100), "USD", "credit", "top up", "k1", "manual", "", int64(0), int64(0))
	f.Add(int64(100), "USD", "debit", "", "", "", "", int64(100), int64(0))
	f.Add(int64(101), "usd", "debit", "", "", "", "", int64(100), int64(50))
	f.Add(int64(0), "JPY", "credit", "r", "k", "payment", "pay_1", int64(5), int64(5))
	f.Add(int64(-1), "XXX", "refund", "\xff", "", "refund", "x", int64(-5), int64(-1))
	f.Add(int64(math.MaxInt64), "USD", "credit", "", "", "", "", int64(math.MaxInt64), int64(0))
	f.Add(int64(1), "USD", "debit", "", "", "", "", int64(math.MinInt64), int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, amount int64, currency, typ, reason, key, refType, refID string, balAmount, held int64) {
		// Make a balance that satisfies Check from the raw numbers.
		if balAmount < 0 {
			balAmount = -(balAmount + 1) // maps MinInt64 to MaxInt64 without overflow
		}
		if held < 0 {
			held = -(held + 1)
		}
		if balAmount == math.MaxInt64 {
			held %= balAmount
		} else {
			held %= balAmount + 1
		}
		b := wallet.Balance{CustomerID: "cus_f", Currency: "USD", Amount: balAmount, Held: held, UpdatedAt: t0}
		if err := b.Check(); err != nil {
			t.Fatalf("bad fuzz balance %+v: %v", b, err)
		}
		req := ledger.Request{Amount: amount, Currency: currency, Type: ledger.Type(typ), Reason: reason,
			IdempotencyKey: key, Reference: ledger.Reference{Type: ledger.RefType(refType), ID: refID}}

		e, after, err := ledger.Post(b, req, "ent_f", t1)
		if err != nil {
			if after != b {
				t.Fatalf("error %v changed the balance %+v -> %+v", err, b, after)
			}
			if e != (ledger.Entry{}) {
				t.Fatalf("error %v with entry %+v", err, e)
			}
			if !errors.Is(err, ledger.ErrInvalid) && !errors.Is(err, wallet.ErrInsufficientFunds) &&
				!errors.Is(err, money.ErrOverflow) && !errors.Is(err, money.ErrUnknownCurrency) &&
				!errors.Is(err, money.ErrCurrencyMismatch) {
				t.Fatalf("undocumented error %v", err)
			}
			if errors.Is(err, wallet.ErrInsufficientFunds) && amount <= b.Available() {
				t.Fatalf("insufficient funds for %d with %d available", amount, b.Available())
			}
			return
		}
		if req.Validate() != nil {
			t.Fatalf("Post accepted a request Validate rejects: %+v", req)
		}
		if err := after.Check(); err != nil {
			t.Fatalf("balance after %+v: %v", after, err)
		}
		if after.Held != b.Held || e.BalanceBefore != b.Amount || e.BalanceAfter != after.Amount ||
			after.Amount-b.Amount != e.Signed() || e.Amount != amount || e.Type != req.Type {
			t.Fatalf("inconsistent post: %+v -> %+v, entry %+v", b, after, e)
		}
		if e.Fingerprint != req.Fingerprint() || e.Currency != b.Currency || e.Reference.Type == "" {
			t.Fatalf("entry fields: %+v", e)
		}
		if req.Type == ledger.Debit && amount > b.Available() {
			t.Fatalf("debit %d beyond %d available accepted", amount, b.Available())
		}
	})
}
