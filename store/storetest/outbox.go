package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// requireEvent compares events, Data as JSON (an adapter may reformat it)
// and Seq only when want has one.
func requireEvent(t *testing.T, want, got webhook.Event) {
	t.Helper()
	require.JSONEq(t, string(want.Data), string(got.Data))
	want.Data, got.Data = nil, nil
	if want.Seq == 0 {
		got.Seq = 0
	}
	require.Equal(t, want, got)
}

func requireEvents(t *testing.T, want, got []webhook.Event) {
	t.Helper()
	require.Equal(t, len(want), len(got), "events: want %v, got %v", eventIDs(want), eventIDs(got))
	for i := range want {
		requireEvent(t, want[i], got[i])
	}
}

func eventIDs(list []webhook.Event) []string {
	return ids(list, func(e webhook.Event) string { return e.ID })
}

func testEvents(t *testing.T, newStore newStoreFunc) {
	t.Run("SeqAndList", func(t *testing.T) {
		s := newStore(t)
		cus := newID("cus")
		var evs []webhook.Event
		for i := 0; i < 3; i++ {
			update(t, s, func(tx store.Tx) {
				for j := 0; j < 2; j++ {
					e := newEvent("payment.succeeded", cus)
					if i == 0 && j == 0 {
						e.Seq = 1 << 40 // ignored: the store assigns Seq
					}
					require.NoError(t, tx.InsertEvent(e))
					evs = append(evs, e)
				}
			})
		}
		view(t, s, func(tx store.Tx) {
			var last int64
			for i := range evs {
				got, err := tx.Event(evs[i].ID)
				require.NoError(t, err)
				require.Greater(t, got.Seq, last, "Seq ascends in insertion order")
				last = got.Seq
				evs[i].Seq = got.Seq
				requireEvent(t, evs[i], got)
				require.False(t, got.Dispatched)
			}
			got, err := tx.Events(0, 100)
			require.NoError(t, err)
			requireEvents(t, evs, got)
			got, err = tx.Events(evs[1].Seq, 3)
			require.NoError(t, err)
			requireEvents(t, evs[2:5], got)
			got, err = tx.Events(evs[5].Seq, 10)
			require.NoError(t, err)
			require.Empty(t, got)
		})
		dup := newEvent("x", cus)
		dup.ID = evs[0].ID
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertEvent(dup) }), store.ErrDuplicate)
		// A later event still gets a larger Seq after the failed insert.
		later := newEvent("customer.updated", "")
		later.Data = []byte(`{}`)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertEvent(later)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Event(later.ID)
			require.NoError(t, err)
			require.Greater(t, got.Seq, evs[5].Seq)
		})
	})
	t.Run("Dispatch", func(t *testing.T) {
		s := newStore(t)
		var evs []webhook.Event
		update(t, s, func(tx store.Tx) {
			for i := 0; i < 5; i++ {
				e := newEvent("wallet.credited", newID("cus"))
				require.NoError(t, tx.InsertEvent(e))
				evs = append(evs, e)
			}
		})
		view(t, s, func(tx store.Tx) {
			got, err := tx.UndispatchedEvents(10)
			require.NoError(t, err)
			requireEvents(t, evs, got)
			got, err = tx.UndispatchedEvents(2)
			require.NoError(t, err)
			requireEvents(t, evs[:2], got)
		})
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.MarkEventDispatched(evs[0].ID))
			require.NoError(t, tx.MarkEventDispatched(evs[2].ID))
			got, err := tx.UndispatchedEvents(10)
			require.NoError(t, err)
			requireEvents(t, []webhook.Event{evs[1], evs[3], evs[4]}, got)
		})
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
			return tx.MarkEventDispatched(newID("evt"))
		}), store.ErrNotFound)
		view(t, s, func(tx store.Tx) {
			got, err := tx.UndispatchedEvents(2)
			require.NoError(t, err)
			requireEvents(t, []webhook.Event{evs[1], evs[3]}, got)
			e, err := tx.Event(evs[2].ID)
			require.NoError(t, err)
			require.True(t, e.Dispatched)
			all, err := tx.Events(0, 10)
			require.NoError(t, err)
			require.Equal(t, eventIDs(evs), eventIDs(all), "dispatched events stay in the log")
		})
		update(t, s, func(tx store.Tx) {
			for _, e := range evs {
				require.NoError(t, tx.MarkEventDispatched(e.ID))
			}
		})
		view(t, s, func(tx store.Tx) {
			got, err := tx.UndispatchedEvents(10)
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})
}

func testEndpoints(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	a, b, c := newEndpoint(), newEndpoint(), newEndpoint()
	b.EventTypes, b.PreviousSecret, b.PreviousExpiresAt = nil, "", time.Time{}
	update(t, s, func(tx store.Tx) {
		require.NoError(t, tx.PutEndpoint(a))
		require.NoError(t, tx.PutEndpoint(b))
	})
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutEndpoint(c)) })
	view(t, s, func(tx store.Tx) {
		got, err := tx.Endpoint(b.ID)
		require.NoError(t, err)
		require.Equal(t, b, got)
		list, err := tx.Endpoints()
		require.NoError(t, err)
		require.Equal(t, []webhook.Endpoint{a, b, c}, list, "oldest first")
	})
	// An update keeps the endpoint's place.
	a.Disabled, a.Secret, a.EventTypes, a.UpdatedAt = true, "whsec_new", []string{"*"}, minutes(4)
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutEndpoint(a)) })
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.DeleteEndpoint(b.ID)) })
	view(t, s, func(tx store.Tx) {
		list, err := tx.Endpoints()
		require.NoError(t, err)
		require.Equal(t, []webhook.Endpoint{a, c}, list)
		_, err = tx.Endpoint(b.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.DeleteEndpoint(b.ID) }), store.ErrNotFound)
	update(t, s, func(tx store.Tx) {
		require.NoError(t, tx.DeleteEndpoint(a.ID))
		require.NoError(t, tx.DeleteEndpoint(c.ID))
	})
	view(t, s, func(tx store.Tx) {
		list, err := tx.Endpoints()
		require.NoError(t, err)
		require.Empty(t, list)
	})
}

func testDeliveries(t *testing.T, newStore newStoreFunc) {
	t.Run("PutGet", func(t *testing.T) {
		s := newStore(t)
		ev := newID("evt")
		addEvents(t, s, ev)
		d := newDelivery(ev, newID("we"), webhook.DeliveryPending, minutes(1))
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutDelivery(d)) })
		d.Status, d.LeaseOwner, d.Attempts, d.DeliveredAt, d.LastStatus, d.LastError =
			webhook.DeliverySucceeded, "worker-1", 2, minutes(2), 204, ""
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutDelivery(d)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Delivery(d.ID)
			require.NoError(t, err)
			require.Equal(t, d, got)
		})
	})
	t.Run("Due", func(t *testing.T) {
		s := newStore(t)
		ev, ep := newID("evt"), newID("we")
		addEvents(t, s, ev)
		now := t0
		// Inserted out of RunAt order.
		d3 := newDelivery(ev, ep, webhook.DeliveryPending, now)                       // due (RunAt == now)
		d1 := newDelivery(ev, ep, webhook.DeliveryPending, now.Add(-3*time.Hour))     // due
		d2 := newDelivery(ev, ep, webhook.DeliveryClaimed, now.Add(-time.Hour))       // due: lease expired
		d4 := newDelivery(ev, ep, webhook.DeliveryPending, now.Add(time.Microsecond)) // future
		d5 := newDelivery(ev, ep, webhook.DeliverySucceeded, now.Add(-5*time.Hour))   // final
		d6 := newDelivery(ev, ep, webhook.DeliveryFailed, now.Add(-4*time.Hour))      // final
		update(t, s, func(tx store.Tx) {
			for _, d := range []webhook.Delivery{d3, d1, d2, d4, d5, d6} {
				require.NoError(t, tx.PutDelivery(d))
			}
		})
		due := func(limit int) []webhook.Delivery {
			var got []webhook.Delivery
			view(t, s, func(tx store.Tx) {
				var err error
				got, err = tx.DueDeliveries(now, limit)
				require.NoError(t, err)
			})
			return got
		}
		require.Equal(t, []webhook.Delivery{d1, d2, d3}, due(10))
		require.Equal(t, []webhook.Delivery{d1, d2}, due(2))

		d1.Status = webhook.DeliverySucceeded
		d2.RunAt = now.Add(time.Minute)
		d4.RunAt = now.Add(-10 * time.Hour)
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.PutDelivery(d1))
			require.NoError(t, tx.PutDelivery(d2))
			require.NoError(t, tx.PutDelivery(d4))
		})
		require.Equal(t, []webhook.Delivery{d4, d3}, due(10))
		d6.Status, d6.RunAt = webhook.DeliveryPending, now.Add(-time.Minute) // revived
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutDelivery(d6)) })
		require.Equal(t, []webhook.Delivery{d4, d6, d3}, due(10))
		view(t, s, func(tx store.Tx) {
			got, err := tx.DueDeliveries(now.Add(-11*time.Hour), 10)
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})
}
