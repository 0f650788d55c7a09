package coffer

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

func TestRecordUsage(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		a, b := v.customer(), v.customer()
		_, err := v.CreateEntry(v.ctx, a.ID, credit(100, "api_calls", "a-top"))
		require.NoError(t, err)
		_, err = v.CreateEntry(v.ctx, b.ID, credit(10_00, "credits", "b-top"))
		require.NoError(t, err)
		n := len(v.events())

		batch := []Usage{
			{CustomerID: a.ID, Unit: "api_calls", Quantity: 60, IdempotencyKey: "u1"},
			{CustomerID: b.ID, Unit: "credits", Quantity: 2_50, IdempotencyKey: "u1", ReferenceID: "req_1"},
			{CustomerID: a.ID, Unit: "api_calls", Quantity: 50, IdempotencyKey: "u2"}, // 40 left: refused, not partial
			{CustomerID: a.ID, Unit: "api_calls", Quantity: 40, IdempotencyKey: "u3", Reason: "search"},
			{CustomerID: "cus_missing", Unit: "api_calls", Quantity: 1, IdempotencyKey: "u1"},
		}
		res, err := v.RecordUsage(v.ctx, batch)
		require.NoError(t, err)
		require.Len(t, res, len(batch))
		require.Equal(t, UsageSummary{Applied: 3, Refused: 2}, Summarize(res))
		require.Nil(t, res[0].Error)
		require.Equal(t, ledger.Debit, res[0].Entry.Type)
		require.Equal(t, int64(60), res[0].Entry.Amount)
		require.Equal(t, UsageReason, res[0].Entry.Reason)
		require.Equal(t, ledger.Reference{Type: RefUsage}, res[0].Entry.Reference)
		require.Equal(t, ledger.Reference{Type: RefUsage, ID: "req_1"}, res[1].Entry.Reference)
		require.Equal(t, int64(7_50), res[1].Balance.Amount)
		require.Equal(t, "insufficient_funds", res[2].Error.Code)
		require.Equal(t, "search", res[3].Entry.Reason)
		require.Zero(t, res[3].Balance.Amount)
		require.Equal(t, "customer_not_found", res[4].Error.Code)
		require.Equal(t, 3, v.eventTypesSince(n)[EventBalanceChanged])

		// The same batch again: replays, and still the refusals.
		n = len(v.events())
		again, err := v.RecordUsage(v.ctx, batch)
		require.NoError(t, err)
		require.Equal(t, UsageSummary{Replayed: 3, Refused: 2}, Summarize(again))
		for _, i := range []int{0, 1, 3} {
			require.Equal(t, res[i].Entry.ID, again[i].Entry.ID)
		}
		require.Len(t, v.events(), n, "a replay emits nothing")

		// A key reused for another usage: a conflict for that item only.
		mixed, err := v.RecordUsage(v.ctx, []Usage{
			{CustomerID: a.ID, Unit: "api_calls", Quantity: 61, IdempotencyKey: "u1"},
			{CustomerID: b.ID, Unit: "credits", Quantity: 1, IdempotencyKey: "u9"},
		})
		require.NoError(t, err)
		require.Equal(t, "idempotency_conflict", mixed[0].Error.Code)
		require.Nil(t, mixed[1].Error)

		// The usage keys share the customer's ledger keys with CreateEntry.
		dup, err := v.CreateEntry(v.ctx, b.ID, EntryParams{Amount: 1, Currency: "credits", Type: ledger.Debit, Reason: UsageReason, IdempotencyKey: "u9"})
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict, "same key, another reference type: %+v", dup)

		ba, err := v.Balance(v.ctx, a.ID, "api_calls")
		require.NoError(t, err)
		require.Zero(t, ba.Amount)
		bb, err := v.Balance(v.ctx, b.ID, "credits")
		require.NoError(t, err)
		require.Equal(t, int64(7_49), bb.Amount)
		v.checkLedger(a.ID)
		v.checkLedger(b.ID)
	})
}

func (v *env) eventTypesSince(n int) map[string]int {
	m := map[string]int{}
	for _, e := range v.events()[n:] {
		m[e.Type]++
	}
	return m
}

// TestRecordUsageBadBatch: a malformed batch is refused whole, with a
// typed error, and changes nothing.
func TestRecordUsageBadBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		c := v.customer()
		_, err := v.CreateEntry(v.ctx, c.ID, credit(1000, "api_calls", "top"))
		require.NoError(t, err)
		ok := Usage{CustomerID: c.ID, Unit: "api_calls", Quantity: 1, IdempotencyKey: "ok"}
		with := func(f func(u *Usage)) []Usage { u := ok; u.IdempotencyKey = "bad"; f(&u); return []Usage{ok, u} }
		tooMany := make([]Usage, MaxUsageBatch+1)
		for i := range tooMany {
			tooMany[i] = Usage{CustomerID: c.ID, Unit: "api_calls", Quantity: 1, IdempotencyKey: fmt.Sprint("k", i)}
		}
		cases := map[string]struct {
			batch []Usage
			code  string
		}{
			"empty":        {nil, "invalid_request"},
			"too many":     {tooMany, "invalid_request"},
			"zero":         {with(func(u *Usage) { u.Quantity = 0 }), "invalid_amount"},
			"negative":     {with(func(u *Usage) { u.Quantity = -5 }), "invalid_amount"},
			"no key":       {with(func(u *Usage) { u.IdempotencyKey = "" }), "invalid_idempotency_key"},
			"long key":     {with(func(u *Usage) { u.IdempotencyKey = strings.Repeat("k", 300) }), "invalid_idempotency_key"},
			"reserved key": {with(func(u *Usage) { u.IdempotencyKey = "hold:x" }), "invalid_idempotency_key"},
			"unknown unit": {with(func(u *Usage) { u.Unit = "tokens" }), "unknown_unit"},
			"not a code":   {with(func(u *Usage) { u.Unit = "API_CALLS" }), "unknown_currency"},
			"disabled":     {with(func(u *Usage) { u.Unit = "EUR" }), "currency_not_enabled"},
			"bad customer": {with(func(u *Usage) { u.CustomerID = "bad id\x00" }), "invalid_id"},
			"bad reason":   {with(func(u *Usage) { u.Reason = strings.Repeat("r", 1000) }), "invalid_reason"},
			"dup key":      {with(func(u *Usage) { u.IdempotencyKey = "ok" }), "invalid_request"},
		}
		n := len(v.events())
		for name, tc := range cases {
			res, err := v.RecordUsage(v.ctx, tc.batch)
			require.Error(t, err, name)
			require.Nil(t, res, name)
			require.Equal(t, tc.code, ErrorCode(err), "%s: %v", name, err)
			require.Equal(t, 422, HTTPStatus(err), name)
		}
		require.Len(t, v.events(), n)
		b, err := v.Balance(v.ctx, c.ID, "api_calls")
		require.NoError(t, err)
		require.Equal(t, int64(1000), b.Amount)
		// The same key for two customers is fine.
		d := v.customer()
		_, err = v.CreateEntry(v.ctx, d.ID, credit(1, "api_calls", "top"))
		require.NoError(t, err)
		other := ok
		other.CustomerID = d.ID
		res, err := v.RecordUsage(v.ctx, []Usage{ok, other})
		require.NoError(t, err)
		require.Equal(t, UsageSummary{Applied: 2}, Summarize(res))
	})
}

// TestRecordUsageConcurrentNeverOverdraws races batches of usage (and
// replays of them) on shared wallets: the wallets never go below zero,
// every applied item is one debit, and balance == credits - debits.
func TestRecordUsageConcurrentNeverOverdraws(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		cs := []customer.Customer{v.customer(), v.customer()}
		const start = 500
		for _, c := range cs {
			_, err := v.CreateEntry(v.ctx, c.ID, credit(start, "api_calls", "top"))
			require.NoError(t, err)
		}
		const workers, batches, size, qty = 6, 4, 10, 7
		var applied [2]atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers*batches*2)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for bn := range batches {
					batch := make([]Usage, size)
					for i := range batch {
						// Alternate customers in opposite orders across
						// workers: the engine orders the locks.
						ci := (i + w) % 2
						batch[i] = Usage{CustomerID: cs[ci].ID, Unit: "api_calls", Quantity: qty,
							IdempotencyKey: fmt.Sprintf("w%d-b%d-i%d", w, bn, i)}
					}
					for try := range 2 { // the second run is a replay
						res, err := v.RecordUsage(v.ctx, batch)
						if err != nil {
							errs <- err
							return
						}
						for i, r := range res {
							switch {
							case r.Error != nil:
								if r.Error.Code != "insufficient_funds" {
									errs <- r.Error
								}
							case !r.Replayed:
								if try == 1 {
									errs <- fmt.Errorf("item %d applied twice", i)
								}
								applied[(i+w)%2].Add(1)
							}
							if r.Error == nil && r.Balance.Amount < 0 {
								errs <- fmt.Errorf("negative balance %d", r.Balance.Amount)
							}
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for i, c := range cs {
			b, err := v.Balance(v.ctx, c.ID, "api_calls")
			require.NoError(t, err)
			require.GreaterOrEqual(t, b.Amount, int64(0))
			require.Equal(t, int64(start)-applied[i].Load()*qty, b.Amount)
			require.Less(t, b.Amount, int64(qty), "demand exceeds the balance: it is spent down to less than one item")
			v.checkLedger(c.ID)
		}
	})
}

var (
	_ = money.ErrOverflow
	_ = wallet.ErrInsufficientFunds
)
