package coffer

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// whEntry posts a ledger request and returns its result.
func (v *env) whEntry(customerID string, typ ledger.Type, amount int64, currency string) EntryResult {
	v.t.Helper()
	res, err := v.CreateEntry(v.ctx, customerID, EntryParams{Amount: amount, Currency: currency, Type: typ, Reason: "test"})
	require.NoError(v.t, err)
	return res
}

// whEventsSince returns the events after the first n, and their count.
func (v *env) whEventsSince(n int) []webhook.Event {
	v.t.Helper()
	evs := v.events()
	require.GreaterOrEqual(v.t, len(evs), n)
	return evs[n:]
}

type whLowPayload struct {
	Balance   wallet.Balance `json:"balance"`
	Threshold int64          `json:"threshold"`
}

func whTypes(evs []webhook.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// TestWalletEventBalanceChanged: every ledger entry writes exactly one
// wallet.balance_changed with the entry and the resulting balance; nothing
// is written for a replay or a refused entry.
func TestWalletEventBalanceChanged(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.whCustomer("Ada")
		n := len(v.events())

		var results []EntryResult
		for _, req := range []EntryParams{
			{Amount: 10_00, Currency: "USD", Type: ledger.Credit, Reason: "top-up", IdempotencyKey: "k1"},
			{Amount: 3_00, Currency: "usd", Type: ledger.Debit, Reason: "usage"},
			{Amount: 500_00, Currency: "INR", Type: ledger.Credit, Reason: "welcome"},
		} {
			res, err := v.CreateEntry(v.ctx, c.ID, req)
			require.NoError(t, err)
			results = append(results, res)
		}
		evs := v.whEventsSince(n)
		require.Len(t, evs, 3)
		for i, ev := range evs {
			require.Equal(t, EventBalanceChanged, ev.Type)
			require.Equal(t, c.ID, ev.CustomerID)
			require.Equal(t, t0, ev.CreatedAt)
			var got struct {
				Entry   ledger.Entry   `json:"entry"`
				Balance wallet.Balance `json:"balance"`
			}
			require.NoError(t, json.Unmarshal(ev.Data, &got))
			want := results[i]
			want.Entry.Fingerprint = ""
			require.Equal(t, want.Entry, got.Entry)
			require.Equal(t, want.Balance, got.Balance)
		}
		require.JSONEq(t, `{"entry":{"id":"`+results[1].Entry.ID+`","customer_id":"`+c.ID+`","currency":"USD",
			"entry_type":"debit","amount":300,"balance_before":1000,"balance_after":700,"reason":"usage",
			"reference":{"type":"manual"},"created_at":"2026-03-02T09:00:00Z"},
			"balance":{"customer_id":"`+c.ID+`","currency":"USD","amount":700,"held":0,"updated_at":"2026-03-02T09:00:00Z"}}`,
			string(evs[1].Data))

		// A replay changes nothing and says nothing.
		res, err := v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 10_00, Currency: "USD", Type: ledger.Credit, Reason: "top-up", IdempotencyKey: "k1"})
		require.NoError(t, err)
		require.True(t, res.Replayed)
		require.Len(t, v.whEventsSince(n), 3)
	})
}

// TestWalletEventRollback: a change that rolls back writes no event, so
// the dispatcher has nothing to send for it; each committed change is
// delivered exactly once.
func TestWalletEventRollback(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore, WithLowBalanceThreshold("USD", 5_00))
		rc := newWHReceiver(t, v.clock, nil)
		v.whEndpoint(rc)
		c := v.whCustomer("Ada")
		v.whEntry(c.ID, ledger.Credit, 10_00, "USD")
		v.whEntry(c.ID, ledger.Debit, 1_00, "USD")
		n := len(v.events())
		for name, req := range map[string]EntryParams{
			"insufficient funds": {Amount: 9_01, Currency: "USD", Type: ledger.Debit, Reason: "too much"},
			"disabled currency":  {Amount: 1, Currency: "EUR", Type: ledger.Debit, Reason: "eur"},
			"zero amount":        {Amount: 0, Currency: "USD", Type: ledger.Debit, Reason: "zero"},
		} {
			_, err := v.CreateEntry(v.ctx, c.ID, req)
			require.Error(t, err, name)
		}
		_, err := v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 1_00, Currency: "USD", Type: ledger.Debit, Reason: "a", IdempotencyKey: "k"})
		require.NoError(t, err)
		n++
		_, err = v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 2_00, Currency: "USD", Type: ledger.Debit, Reason: "b", IdempotencyKey: "k"})
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
		_, err = v.CreateEntry(v.ctx, "cus_missing", EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit, Reason: "x"})
		require.Error(t, err)

		evs := v.events()
		require.Len(t, evs, n, "no event for a refused change")
		// The refused debits would have crossed the low threshold: no
		// wallet.balance_low either.
		require.Equal(t, map[string]int{EventCustomerCreated: 1, EventBalanceChanged: 3}, v.eventTypes())
		b, err := v.Balance(v.ctx, c.ID, "USD")
		require.NoError(t, err)
		require.Equal(t, int64(8_00), b.Amount)
		require.False(t, b.Low)

		rep := v.whDispatch(v.whDispatcher(WebhookOptions{}))
		require.Equal(t, len(evs), rep.Succeeded)
		require.Len(t, rc.got(), len(evs))
		for _, ev := range evs {
			require.Equal(t, 1, rc.count(ev.ID))
		}
	})
}

// TestWalletEventBalanceLow: wallet.balance_low fires once when a balance
// crosses below the per-currency threshold, not on further debits below
// it, and again only after the balance has risen to the threshold or above.
func TestWalletEventBalanceLow(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore, WithLowBalanceThreshold("usd", 10_00))
		c := v.whCustomer("Ada")
		steps := []struct {
			typ   ledger.Type
			amt   int64
			after int64
			low   bool // a wallet.balance_low event follows the entry
		}{
			{ledger.Credit, 50_00, 50_00, false},
			{ledger.Debit, 35_00, 15_00, false},
			{ledger.Debit, 6_00, 9_00, true}, // crosses below 10.00
			{ledger.Debit, 5_00, 4_00, false},
			{ledger.Debit, 4_00, 0, false},
			{ledger.Credit, 5_00, 5_00, false},  // still below
			{ledger.Credit, 5_00, 10_00, false}, // at the threshold: re-armed
			{ledger.Debit, 1, 9_99, true},       // crosses again
			{ledger.Credit, 20_01, 30_00, false},
			{ledger.Debit, 20_01, 9_99, true}, // straight from above to below
		}
		lows := 0
		for i, s := range steps {
			n := len(v.events())
			res := v.whEntry(c.ID, s.typ, s.amt, "USD")
			require.Equal(t, s.after, res.Balance.Amount, "step %d", i)
			evs := v.whEventsSince(n)
			if !s.low {
				require.Equal(t, []string{EventBalanceChanged}, whTypes(evs), "step %d", i)
				continue
			}
			lows++
			require.Equal(t, []string{EventBalanceChanged, EventBalanceLow}, whTypes(evs), "step %d", i)
			var p whLowPayload
			require.NoError(t, json.Unmarshal(evs[1].Data, &p))
			require.Equal(t, int64(10_00), p.Threshold)
			require.Equal(t, s.after, p.Balance.Amount)
			require.Equal(t, "USD", p.Balance.Currency)
			require.Equal(t, c.ID, p.Balance.CustomerID)
			require.True(t, p.Balance.Low)
			require.Equal(t, c.ID, evs[1].CustomerID)
		}
		require.Equal(t, 3, lows)

		// A currency without a threshold never fires.
		v.whEntry(c.ID, ledger.Credit, 100, "INR")
		v.whEntry(c.ID, ledger.Debit, 100, "INR")
		require.Equal(t, 3, v.eventTypes()[EventBalanceLow])
	})
}

// TestWalletEventBalanceLowPerCustomer: a customer's own threshold
// overrides the currency's; clearing it falls back; a threshold raised above
// the balance counts as a crossing.
func TestWalletEventBalanceLowPerCustomer(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore, WithLowBalanceThreshold("USD", 10_00))
		a, b := v.whCustomer("A"), v.whCustomer("B")
		v.whEntry(a.ID, ledger.Credit, 200_00, "USD")
		v.whEntry(b.ID, ledger.Credit, 200_00, "USD")

		lowsOf := func(customerID string) []whLowPayload {
			var out []whLowPayload
			for _, ev := range v.events() {
				if ev.Type == EventBalanceLow && ev.CustomerID == customerID {
					var p whLowPayload
					require.NoError(t, json.Unmarshal(ev.Data, &p))
					out = append(out, p)
				}
			}
			return out
		}

		bal, err := v.SetLowBalanceThreshold(v.ctx, a.ID, LowBalanceParams{Currency: "USD", Threshold: 100_00})
		require.NoError(t, err)
		require.Equal(t, int64(100_00), bal.LowThreshold)
		require.False(t, bal.Low)
		require.Empty(t, lowsOf(a.ID), "200.00 is above 100.00")

		v.whEntry(a.ID, ledger.Debit, 150_00, "USD") // 50.00 < A's 100.00
		v.whEntry(b.ID, ledger.Debit, 150_00, "USD") // 50.00 >= the currency's 10.00
		require.Len(t, lowsOf(a.ID), 1)
		require.Equal(t, int64(100_00), lowsOf(a.ID)[0].Threshold)
		require.Empty(t, lowsOf(b.ID))
		v.whEntry(a.ID, ledger.Debit, 10_00, "USD")
		require.Len(t, lowsOf(a.ID), 1, "once per crossing")

		// Clearing A's threshold falls back to 10.00: 40.00 is not low,
		// which re-arms the event.
		bal, err = v.SetLowBalanceThreshold(v.ctx, a.ID, LowBalanceParams{Currency: "USD", Threshold: 0})
		require.NoError(t, err)
		require.False(t, bal.Low)
		v.whEntry(a.ID, ledger.Debit, 35_00, "USD") // 5.00 < 10.00
		require.Len(t, lowsOf(a.ID), 2)
		require.Equal(t, int64(10_00), lowsOf(a.ID)[1].Threshold)

		// Raising B's threshold above its balance is a crossing too (no
		// ledger entry, so no balance_changed with it).
		n := len(v.events())
		bal, err = v.SetLowBalanceThreshold(v.ctx, b.ID, LowBalanceParams{Currency: "USD", Threshold: 60_00})
		require.NoError(t, err)
		require.True(t, bal.Low)
		require.Equal(t, []string{EventBalanceLow}, whTypes(v.whEventsSince(n)))
		_, err = v.SetLowBalanceThreshold(v.ctx, b.ID, LowBalanceParams{Currency: "USD", Threshold: 70_00})
		require.NoError(t, err)
		require.Len(t, lowsOf(b.ID), 1, "already low")

		_, err = v.SetLowBalanceThreshold(v.ctx, b.ID, LowBalanceParams{Currency: "USD", Threshold: -1})
		require.ErrorIs(t, err, ErrInvalid)
		require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
		_, err = New(v.store, WithLowBalanceThreshold("USD", -1))
		require.ErrorIs(t, err, ErrInvalidConfig)
		_, err = New(v.store, WithLowBalanceThreshold("XXX", 1))
		require.Error(t, err)
	})
}
