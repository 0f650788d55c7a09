package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

func pruneEvents(t *testing.T, s store.Store, before time.Time, limit int) int {
	t.Helper()
	var n int
	update(t, s, func(tx store.Tx) {
		var err error
		n, err = tx.PruneEvents(before, limit)
		require.NoError(t, err)
	})
	return n
}

func pruneDeliveries(t *testing.T, s store.Store, before time.Time, limit int) int {
	t.Helper()
	var n int
	update(t, s, func(tx store.Tx) {
		var err error
		n, err = tx.PruneDeliveries(before, limit)
		require.NoError(t, err)
	})
	return n
}

func testPruneEvents(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	ev := func(created time.Time, dispatched bool) webhook.Event {
		e := newEvent("payment.succeeded", "")
		e.CreatedAt, e.Dispatched = created, dispatched
		return e
	}
	cut := t0
	var old []webhook.Event
	for i := 0; i < 5; i++ { // dispatched, older than cut: prunable, oldest first
		old = append(old, ev(cut.Add(-time.Duration(10-i)*time.Hour), true))
	}
	undispatched := ev(cut.Add(-20*time.Hour), false)
	atCut := ev(cut, true)                         // not before cut
	recent := ev(cut.Add(time.Hour), true)         // recent
	referenced := ev(cut.Add(-30*time.Hour), true) // a delivery refers to it
	marked := ev(cut.Add(-40*time.Hour), false)    // dispatched later, by MarkEventDispatched
	all := append([]webhook.Event{undispatched, atCut, recent, referenced, marked}, old[3], old[1], old[4], old[0], old[2])
	update(t, s, func(tx store.Tx) {
		for _, e := range all {
			require.NoError(t, tx.InsertEvent(e))
		}
		require.NoError(t, tx.PutDelivery(newDelivery(referenced.ID, newID("we"), webhook.DeliverySucceeded, t0)))
	})
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.MarkEventDispatched(marked.ID)) })

	// A prune that rolls back deletes nothing.
	boom := errors.New("boom")
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		n, err := tx.PruneEvents(cut, 100)
		require.NoError(t, err)
		require.Equal(t, 6, n)
		_, err = tx.Event(marked.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "the transaction sees its own prune")
		return boom
	}), boom)
	view(t, s, func(tx store.Tx) {
		got, err := tx.Events(0, 100)
		require.NoError(t, err)
		require.Len(t, got, len(all))
	})

	require.Equal(t, 2, pruneEvents(t, s, cut, 2), "a batch is bounded")
	view(t, s, func(tx store.Tx) {
		_, err := tx.Event(marked.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "oldest first")
		_, err = tx.Event(old[0].ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.Event(old[1].ID)
		require.NoError(t, err)
	})
	require.Equal(t, 4, pruneEvents(t, s, cut, 0), "limit <= 0 is DefaultLimit")
	require.Zero(t, pruneEvents(t, s, cut, 10))
	view(t, s, func(tx store.Tx) {
		got, err := tx.Events(0, 100)
		require.NoError(t, err)
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		require.Equal(t, []string{undispatched.ID, atCut.ID, recent.ID, referenced.ID}, ids,
			"undispatched, recent and referenced events stay, in Seq order")
		und, err := tx.UndispatchedEvents(10)
		require.NoError(t, err)
		require.Len(t, und, 1)
		require.Equal(t, undispatched.ID, und[0].ID)
	})
	// Once its delivery is pruned, the referenced event can go too.
	require.Equal(t, 1, pruneDeliveries(t, s, t0.Add(time.Second), 10))
	require.Equal(t, 1, pruneEvents(t, s, cut, 10))
	require.Equal(t, 1, pruneEvents(t, s, cut.Add(time.Microsecond), 10), "before is exclusive")
}

func testPruneDeliveries(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	ev, ep := newID("evt"), newID("we")
	addEvents(t, s, ev)
	cut := t0
	dl := func(st webhook.DeliveryStatus, updated time.Time) webhook.Delivery {
		d := newDelivery(ev, ep, st, updated)
		d.UpdatedAt = updated
		return d
	}
	var old []webhook.Delivery
	for i := 0; i < 4; i++ {
		st := webhook.DeliverySucceeded
		if i%2 == 1 {
			st = webhook.DeliveryFailed // dead-lettered
		}
		old = append(old, dl(st, cut.Add(-time.Duration(10-i)*time.Hour)))
	}
	pending := dl(webhook.DeliveryPending, cut.Add(-20*time.Hour))
	claimed := dl(webhook.DeliveryClaimed, cut.Add(-20*time.Hour))
	recent := dl(webhook.DeliverySucceeded, cut)
	finishedLater := dl(webhook.DeliveryPending, cut.Add(-30*time.Hour)) // finishes below, still old
	update(t, s, func(tx store.Tx) {
		for _, d := range []webhook.Delivery{old[2], pending, old[0], claimed, recent, old[3], finishedLater, old[1]} {
			require.NoError(t, tx.PutDelivery(d))
		}
	})
	finishedLater.Status = webhook.DeliveryFailed
	finishedLater.UpdatedAt = cut.Add(-25 * time.Hour)
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutDelivery(finishedLater)) })

	boom := errors.New("boom")
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		n, err := tx.PruneDeliveries(cut, 100)
		require.NoError(t, err)
		require.Equal(t, 5, n)
		return boom
	}), boom)

	require.Equal(t, 2, pruneDeliveries(t, s, cut, 2))
	view(t, s, func(tx store.Tx) {
		_, err := tx.Delivery(finishedLater.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "oldest UpdatedAt first")
		_, err = tx.Delivery(old[0].ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.Delivery(old[1].ID)
		require.NoError(t, err)
	})
	require.Equal(t, 3, pruneDeliveries(t, s, cut, 10))
	require.Zero(t, pruneDeliveries(t, s, cut, 10))
	view(t, s, func(tx store.Tx) {
		for _, q := range []store.DeliveryQuery{{}, {EventID: ev}, {EndpointID: ep}} {
			q.Limit = store.MaxLimit
			got, _, err := tx.ListDeliveries(q)
			require.NoError(t, err)
			var ids []string
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			require.Equal(t, []string{recent.ID, claimed.ID, pending.ID}, ids, "active and recent deliveries stay (%+v)", q)
		}
		due, err := tx.DueDeliveries(cut, 10)
		require.NoError(t, err)
		require.Len(t, due, 2)
	})
}
