package coffer

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/eventjson"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

func (v *env) customer() customer.Customer {
	v.t.Helper()
	c, err := v.CreateCustomer(v.ctx, customer.Params{Name: new("Test")})
	require.NoError(v.t, err)
	return c
}

func credit(amount int64, currency, key string) EntryParams {
	return EntryParams{Amount: amount, Currency: currency, Type: ledger.Credit, Reason: "test credit", IdempotencyKey: key}
}

func debit(amount int64, currency, key string) EntryParams {
	return EntryParams{Amount: amount, Currency: currency, Type: ledger.Debit, Reason: "test debit", IdempotencyKey: key}
}

// checkLedger asserts the ledger invariants for every wallet of a customer:
// sum(credits) - sum(debits) == balance, balance >= 0, held within it, and
// the entries chain (each entry's before equals the previous after).
func (v *env) checkLedger(customerID string) {
	v.t.Helper()
	bs, err := v.Balances(v.ctx, customerID)
	require.NoError(v.t, err)
	for _, b := range bs {
		require.NoError(v.t, b.Check())
		var sum int64
		var entries []ledger.Entry
		p := EntryListParams{CustomerID: customerID, Currency: b.Currency, ListParams: ListParams{Limit: 100}}
		for e, err := range Iterate(v.ctx, p, v.ListEntries) {
			require.NoError(v.t, err)
			entries = append(entries, e)
		}
		keys := map[string]bool{}
		for i := len(entries) - 1; i >= 0; i-- { // oldest first
			e := entries[i]
			sum += e.Signed()
			require.Equal(v.t, e.BalanceBefore+e.Signed(), e.BalanceAfter)
			if i < len(entries)-1 {
				require.Equal(v.t, entries[i+1].BalanceAfter, e.BalanceBefore, "entries chain")
			}
			require.GreaterOrEqual(v.t, e.BalanceAfter, int64(0))
			if e.IdempotencyKey != "" {
				require.False(v.t, keys[e.IdempotencyKey], "key %s applied twice", e.IdempotencyKey)
				keys[e.IdempotencyKey] = true
			}
		}
		require.Equal(v.t, sum, b.Amount, "sum of entries == balance (%s)", b.Currency)
	}
}

func TestLedger(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("credit and debit record before/after and emit one event each", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			r, err := v.CreateEntry(v.ctx, c.ID, credit(10_00, "usd", "dep-1"))
			require.NoError(t, err)
			require.False(t, r.Replayed)
			require.Equal(t, "USD", r.Entry.Currency)
			require.Equal(t, int64(0), r.Entry.BalanceBefore)
			require.Equal(t, int64(1000), r.Entry.BalanceAfter)
			require.Equal(t, int64(1000), r.Balance.Amount)
			require.Equal(t, ledger.RefManual, r.Entry.Reference.Type)
			r, err = v.CreateEntry(v.ctx, c.ID, debit(2_50, "USD", "buy-1"))
			require.NoError(t, err)
			require.Equal(t, int64(1000), r.Entry.BalanceBefore)
			require.Equal(t, int64(750), r.Entry.BalanceAfter)
			r, err = v.CreateEntry(v.ctx, c.ID, credit(500_00, "INR", ""))
			require.NoError(t, err)
			b, err := v.Balance(v.ctx, c.ID, "INR")
			require.NoError(t, err)
			require.Equal(t, int64(50000), b.Amount)
			require.Equal(t, 3, v.eventTypes()[EventBalanceChanged])
			v.checkLedger(c.ID)
		})

		t.Run("debit beyond balance is 400 and changes nothing", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			_, err := v.CreateEntry(v.ctx, c.ID, credit(100, "USD", "k1"))
			require.NoError(t, err)
			before := len(v.events())
			_, err = v.CreateEntry(v.ctx, c.ID, debit(101, "USD", "k2"))
			require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
			require.Equal(t, http.StatusBadRequest, HTTPStatus(err))
			require.Len(t, v.events(), before)
			b, _ := v.Balance(v.ctx, c.ID, "USD")
			require.Equal(t, int64(100), b.Amount)
			list, err := v.ListEntries(v.ctx, EntryListParams{CustomerID: c.ID})
			require.NoError(t, err)
			require.Len(t, list.Data, 1)
			// The failed key was not consumed: it may be used for a fitting request.
			_, err = v.CreateEntry(v.ctx, c.ID, debit(100, "USD", "k2"))
			require.NoError(t, err)
			b, _ = v.Balance(v.ctx, c.ID, "USD")
			require.Zero(t, b.Amount)
		})

		t.Run("idempotency: replay returns the original, conflict is 409", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			first, err := v.CreateEntry(v.ctx, c.ID, credit(700, "USD", "bonus"))
			require.NoError(t, err)
			again, err := v.CreateEntry(v.ctx, c.ID, credit(700, "USD", "bonus"))
			require.NoError(t, err)
			require.True(t, again.Replayed)
			require.Equal(t, first.Entry, again.Entry)
			require.Equal(t, int64(700), again.Balance.Amount)
			_, err = v.CreateEntry(v.ctx, c.ID, credit(701, "USD", "bonus"))
			require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
			require.Equal(t, http.StatusConflict, HTTPStatus(err))
			_, err = v.CreateEntry(v.ctx, c.ID, debit(700, "USD", "bonus"))
			require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
			b, _ := v.Balance(v.ctx, c.ID, "USD")
			require.Equal(t, int64(700), b.Amount)
			require.Equal(t, 1, v.eventTypes()[EventBalanceChanged])
			// Keys are per customer.
			other := v.customer()
			r, err := v.CreateEntry(v.ctx, other.ID, credit(5, "USD", "bonus"))
			require.NoError(t, err)
			require.False(t, r.Replayed)
		})

		t.Run("bad requests are typed and change nothing", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			cases := []struct {
				req    EntryParams
				want   error
				status int
			}{
				{credit(0, "USD", ""), ledger.ErrInvalidAmount, 422},
				{credit(-5, "USD", ""), ledger.ErrInvalidAmount, 422},
				{EntryParams{Amount: 5, Currency: "USD", Type: "gift"}, ledger.ErrInvalidType, 422},
				{credit(5, "EUR", ""), money.ErrCurrencyDisabled, 422},
				{credit(5, "ZZZ", ""), money.ErrUnknownCurrency, 422},
				{credit(5, "USD", string(make([]byte, 300))), ledger.ErrInvalidKey, 422},
			}
			for _, tc := range cases {
				_, err := v.CreateEntry(v.ctx, c.ID, tc.req)
				require.ErrorIs(t, err, tc.want)
				require.Equal(t, tc.status, HTTPStatus(err))
			}
			_, err := v.CreateEntry(v.ctx, "cus_missing", credit(5, "USD", ""))
			require.ErrorIs(t, err, customer.ErrNotFound)
			require.Equal(t, http.StatusNotFound, HTTPStatus(err))
			_, err = v.CreateEntry(v.ctx, c.ID, credit(1<<62, "USD", "a"))
			require.NoError(t, err)
			_, err = v.CreateEntry(v.ctx, c.ID, credit(1<<62, "USD", "b"))
			require.ErrorIs(t, err, money.ErrOverflow)
			b, _ := v.Balance(v.ctx, c.ID, "USD")
			require.Equal(t, int64(1<<62), b.Amount)
		})

		t.Run("entries list newest first, by currency, paginated", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			for i := 0; i < 30; i++ {
				cur := []string{"USD", "INR"}[i%2]
				_, err := v.CreateEntry(v.ctx, c.ID, credit(int64(i+1), cur, fmt.Sprint("k", i)))
				require.NoError(t, err)
			}
			usd, err := v.ListEntries(v.ctx, EntryListParams{CustomerID: c.ID, Currency: "usd", ListParams: ListParams{Limit: 10}})
			require.NoError(t, err)
			require.Len(t, usd.Data, 10)
			require.True(t, usd.HasMore)
			require.Equal(t, int64(29), usd.Data[0].Amount) // i=28 -> 29, newest USD
			for _, e := range usd.Data {
				require.Equal(t, "USD", e.Currency)
			}
			rest, err := v.ListEntries(v.ctx, EntryListParams{CustomerID: c.ID, Currency: "USD", ListParams: ListParams{Limit: 10, StartingAfter: usd.Data[9].ID}})
			require.NoError(t, err)
			require.Len(t, rest.Data, 5)
			require.False(t, rest.HasMore)
			all, err := v.ListEntries(v.ctx, EntryListParams{CustomerID: c.ID, ListParams: ListParams{Limit: 100}})
			require.NoError(t, err)
			require.Len(t, all.Data, 30)
			_, err = v.ListEntries(v.ctx, EntryListParams{CustomerID: "cus_missing"})
			require.ErrorIs(t, err, customer.ErrNotFound)
			v.checkLedger(c.ID)
		})

		t.Run("64 goroutines credit and debit one wallet exactly", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			_, err := v.CreateEntry(v.ctx, c.ID, credit(1_000, "USD", "seed"))
			require.NoError(t, err)
			const workers, ops = 64, 20
			var wg sync.WaitGroup
			var mu sync.Mutex
			var okCredits, okDebits, insufficient int64
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < ops; i++ {
						req := credit(7, "USD", fmt.Sprintf("c-%d-%d", w, i))
						if (w+i)%2 == 0 {
							req = debit(13, "USD", fmt.Sprintf("d-%d-%d", w, i))
						}
						_, err := v.CreateEntry(v.ctx, c.ID, req)
						mu.Lock()
						switch {
						case err == nil && req.Type == ledger.Credit:
							okCredits++
						case err == nil:
							okDebits++
						case errorsIs(err, wallet.ErrInsufficientFunds):
							insufficient++
						default:
							t.Errorf("unexpected error: %v", err)
						}
						mu.Unlock()
					}
				}(w)
			}
			wg.Wait()
			b, err := v.Balance(v.ctx, c.ID, "USD")
			require.NoError(t, err)
			require.Equal(t, 1_000+7*okCredits-13*okDebits, b.Amount)
			require.Equal(t, int64(workers*ops), okCredits+okDebits+insufficient)
			v.checkLedger(c.ID)
		})

		t.Run("concurrent retries of one request apply it once", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			var wg sync.WaitGroup
			results := make([]EntryResult, 32)
			for i := range results {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					r, err := v.CreateEntry(v.ctx, c.ID, credit(250, "USD", "once"))
					require.NoError(t, err)
					results[i] = r
				}(i)
			}
			wg.Wait()
			fresh := 0
			for _, r := range results {
				if !r.Replayed {
					fresh++
				}
				require.Equal(t, results[0].Entry.ID, r.Entry.ID)
			}
			require.Equal(t, 1, fresh)
			b, _ := v.Balance(v.ctx, c.ID, "USD")
			require.Equal(t, int64(250), b.Amount)
		})

		t.Run("property: random interleavings keep every invariant", func(t *testing.T) {
			v := newEnv(t, newStore)
			var customers []string
			for i := 0; i < 3; i++ {
				customers = append(customers, v.customer().ID)
			}
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(seed int64) {
					defer wg.Done()
					rng := rand.New(rand.NewSource(seed))
					for i := 0; i < 40; i++ {
						cus := customers[rng.Intn(len(customers))]
						cur := []string{"USD", "INR"}[rng.Intn(2)]
						amt := int64(rng.Intn(500) + 1)
						key := ""
						if rng.Intn(3) > 0 {
							key = fmt.Sprint("k", rng.Intn(60)) // reuse keys on purpose
						}
						req := credit(amt, cur, key)
						if rng.Intn(2) == 0 {
							req = debit(amt, cur, key)
						}
						_, err := v.CreateEntry(v.ctx, cus, req)
						if err != nil && !errorsIs(err, wallet.ErrInsufficientFunds) && !errorsIs(err, ledger.ErrIdempotencyConflict) {
							t.Errorf("unexpected: %v", err)
						}
					}
				}(int64(w))
			}
			wg.Wait()
			for _, c := range customers {
				v.checkLedger(c)
			}
		})
	})
}

func TestBalanceChangedJSONMatchesEncodingJSON(t *testing.T) {
	e := ledger.Entry{ID: "le_1", CustomerID: "cus_1", Currency: "USD", Type: ledger.Debit, Amount: 5, BalanceBefore: 10,
		BalanceAfter: 5, Reason: "weird <&> \"quotes\" \\ \n\t\x01 \u2028 é \xff", IdempotencyKey: "k\"1",
		Reference: ledger.Reference{Type: ledger.RefPayment, ID: "pay_<1>"}, CreatedAt: t0.Add(123456789)}
	for _, b := range []wallet.Balance{
		{CustomerID: "cus_1", Currency: "USD", Amount: 5, Held: 2, UpdatedAt: t0},
		{CustomerID: "cus_1", Currency: "USD", Amount: 5, LowThreshold: 100, Low: true, UpdatedAt: t0},
	} {
		want, err := json.Marshal(BalanceChanged{Entry: e, Balance: b})
		require.NoError(t, err)
		require.Equal(t, string(want), string(eventjson.BalanceChanged(&e, &b)))
	}
	e.Reason, e.IdempotencyKey, e.Reference.ID = "", "", ""
	b := wallet.Balance{CustomerID: "c", Currency: "INR"}
	want, _ := json.Marshal(BalanceChanged{Entry: e, Balance: b})
	require.Equal(t, string(want), string(eventjson.BalanceChanged(&e, &b)))
}

func errorsIs(err, target error) bool { return errorsIsFn(err, target) }

// TestManualEntriesAreManual: a caller's entry cannot claim to be a payment
// or a refund; its reference type is always manual.
func TestManualEntriesAreManual(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		res, err := v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 5_00, Currency: "USD", Type: ledger.Credit,
			Reason: "order 42", ReferenceID: "order_42"})
		require.NoError(t, err)
		require.Equal(t, ledger.Reference{Type: ledger.RefManual, ID: "order_42"}, res.Entry.Reference)
		rep, err := v.SpendingReport(v.ctx, c.ID, SpendingReportParams{Currency: "USD", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
		require.NoError(t, err)
		require.Equal(t, []ReferenceTotal{{Type: ledger.RefManual, Credited: 5_00}}, rep.ByReference)
	})
}
