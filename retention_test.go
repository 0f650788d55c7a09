package coffer

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
)

// rnCounts counts what a prune may and may not touch.
type rnCounts struct {
	events, undispatched, deliveries, active, entries, payments int
}

func (v *env) rnCounts(customers []string) rnCounts {
	v.t.Helper()
	var c rnCounts
	for _, ev := range v.events() {
		c.events++
		if !ev.Dispatched {
			c.undispatched++
		}
	}
	for _, d := range v.whDeliveries(DeliveryListParams{}) {
		c.deliveries++
		if d.Status.Active() {
			c.active++
		}
	}
	require.NoError(v.t, v.store.View(v.ctx, func(tx store.Tx) error {
		for _, id := range customers {
			es, _, err := tx.ListEntries(store.EntryQuery{CustomerID: id, Page: store.Page{Limit: store.MaxLimit}})
			if err != nil {
				return err
			}
			ps, _, err := tx.ListPayments(store.PaymentQuery{CustomerID: id, Page: store.Page{Limit: store.MaxLimit}})
			if err != nil {
				return err
			}
			c.entries += len(es)
			c.payments += len(ps)
		}
		return nil
	}))
	return c
}

// TestPruneRetention: Prune deletes dispatched events and finished
// deliveries past their retention, in bounded batches, and nothing else:
// not undispatched events, not active deliveries (nor the events they
// carry), not the ledger or payments.
func TestPruneRetention(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		const batch = 3
		v := newEnv(t, newStore, WithRetention(Retention{BatchSize: batch}))
		ok := newWHReceiver(t, v.clock, nil)
		down := newWHReceiver(t, v.clock, func(whReceipt, http.ResponseWriter) int { return http.StatusServiceUnavailable })
		v.whEndpoint(ok)
		v.whEndpoint(down, EventCustomerCreated) // its deliveries stay pending

		var customers []string
		for i := range 4 {
			c := v.whCustomer(fmt.Sprintf("customer %d", i))
			customers = append(customers, c.ID)
			v.whCredit(c.ID, 10_00)
		}
		sub := v.odSubscribe(customers[0], processor.CardOK)
		_, err := v.Charge(v.ctx, sub.ID, ChargeParams{ProductPrice: new(int64(15_00))})
		require.NoError(t, err)
		v.whDispatch(v.whDispatcher(WebhookOptions{}))
		before := v.rnCounts(customers)
		require.Zero(t, before.undispatched)
		require.Equal(t, 4, before.active, "the down endpoint's deliveries are pending")
		require.Positive(t, before.payments)

		// Within the retention nothing goes.
		v.clock.Advance(DefaultRetention - time.Second)
		rep, err := v.Prune(v.ctx)
		require.NoError(t, err)
		require.Equal(t, PruneReport{Transactions: 2}, rep)

		v.clock.Advance(time.Second + time.Hour)
		late := v.whCustomer("late") // an event not yet dispatched, and recent
		customers = append(customers, late.ID)
		rep, err = v.Prune(v.ctx)
		require.NoError(t, err)
		finished := before.deliveries - before.active
		require.Equal(t, finished, rep.Deliveries, "every finished delivery")
		require.Equal(t, before.events-before.active, rep.Events, "every dispatched event no kept delivery refers to")
		// Each loop ends with a short batch: ceil((n+1)/batch) transactions.
		require.Equal(t, (finished/batch+1)+(rep.Events/batch+1), rep.Transactions, "bounded batches")

		after := v.rnCounts(customers)
		require.Equal(t, before.active+1, after.events, "the events of pending deliveries and the undispatched one stay")
		require.Equal(t, 1, after.undispatched)
		require.Equal(t, before.active, after.deliveries)
		require.Equal(t, before.active, after.active)
		require.Equal(t, before.entries, after.entries, "the ledger is never pruned")
		require.Equal(t, before.payments, after.payments, "payments are never pruned")

		rep, err = v.Prune(v.ctx)
		require.NoError(t, err)
		require.Equal(t, PruneReport{Transactions: 2}, rep, "nothing left")
	})
}

// TestRunPrunes: Engine.Run prunes on its pass.
func TestRunPrunes(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore, WithRetention(Retention{Events: time.Hour, Deliveries: KeepForever}))
		v.whCustomer("Ada")
		v.whDispatch(v.whDispatcher(WebhookOptions{}))
		v.clock.Advance(2 * time.Hour)
		ctx, cancel := context.WithCancel(v.ctx)
		done := make(chan error, 1)
		v.Engine.onError = func(err error) { t.Error(err) }
		go func() { done <- v.Run(ctx) }()
		require.Eventually(t, func() bool { return len(v.events()) == 0 }, 10*time.Second, 10*time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}

// TestRetentionKeepForeverAndValidation: KeepForever keeps everything;
// a batch size out of range is refused.
func TestRetentionKeepForeverAndValidation(t *testing.T) {
	v := newEnv(t, storeKinds["memory"], WithRetention(Retention{Events: KeepForever, Deliveries: KeepForever}))
	ok := newWHReceiver(t, v.clock, nil)
	v.whEndpoint(ok)
	c := v.whCustomer("Ada")
	_, err := v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 1, Currency: "USD", Type: ledger.Credit, Reason: "x"})
	require.NoError(t, err)
	v.whDispatch(v.whDispatcher(WebhookOptions{}))
	v.clock.Advance(10 * 365 * 24 * time.Hour)
	rep, err := v.Prune(v.ctx)
	require.NoError(t, err)
	require.Equal(t, PruneReport{}, rep)
	require.Len(t, v.events(), 2)
	require.Len(t, v.whDeliveries(DeliveryListParams{}), 2)

	for _, r := range []Retention{{BatchSize: -1}, {BatchSize: MaxRetentionBatch + 1}} {
		_, err := New(v.store, WithoutProcessor(), WithRetention(r))
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", r)
	}
	e, err := New(v.store, WithoutProcessor())
	require.NoError(t, err)
	require.Equal(t, Retention{Events: DefaultRetention, Deliveries: DefaultRetention, BatchSize: DefaultRetentionBatch},
		e.retention, "30 days by default")
}
