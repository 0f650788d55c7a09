package memory

import (
	stdErrors "errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

// TestDeliveriesByStatusIndex: ListDeliveries filtered by status alone
// pages through the status index, which holds exactly the deliveries of
// each status through updates, prunes and rollbacks.
func TestDeliveriesByStatusIndex(t *testing.T) {
	s := New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 5000
	put := func(tx store.Tx, i int, st webhook.DeliveryStatus) error {
		return tx.PutDelivery(webhook.Delivery{ID: fmt.Sprintf("dlv_%05d", i), EventID: "evt_1", EndpointID: "ep_1",
			Status: st, RunAt: t0, CreatedAt: t0, UpdatedAt: t0})
	}
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			st := webhook.DeliverySucceeded
			if i%1000 == 0 {
				st = webhook.DeliveryFailed
			}
			if err := put(tx, i, st); err != nil {
				return err
			}
		}
		return nil
	}))
	sizes := func() map[webhook.DeliveryStatus]int {
		out := map[webhook.DeliveryStatus]int{}
		for st, l := range s.delByStatus {
			out[st] = len(l)
		}
		return out
	}
	require.Equal(t, map[webhook.DeliveryStatus]int{webhook.DeliverySucceeded: n - 5, webhook.DeliveryFailed: 5}, sizes())

	list := func(st webhook.DeliveryStatus, p store.Page) (ids []string, more bool) {
		require.NoError(t, s.View(ctx, func(tx store.Tx) error {
			l, m, err := tx.ListDeliveries(store.DeliveryQuery{Status: st, Page: p})
			for _, d := range l {
				require.Equal(t, st, d.Status)
				ids = append(ids, d.ID)
			}
			more = m
			return err
		}))
		return ids, more
	}
	ids, more := list(webhook.DeliveryFailed, store.Page{Limit: 2})
	require.Equal(t, []string{"dlv_04000", "dlv_03000"}, ids, "newest first")
	require.True(t, more)
	ids, more = list(webhook.DeliveryFailed, store.Page{Limit: 10, StartingAfter: "dlv_03000"})
	require.Equal(t, []string{"dlv_02000", "dlv_01000", "dlv_00000"}, ids)
	require.False(t, more)

	// A status change moves the delivery between lists; a rollback moves
	// it back.
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error { return put(tx, 4000, webhook.DeliveryPending) }))
	ids, _ = list(webhook.DeliveryPending, store.Page{})
	require.Equal(t, []string{"dlv_04000"}, ids)
	boom := stdErrors.New("rollback")
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		if err := put(tx, 4000, webhook.DeliveryFailed); err != nil {
			return err
		}
		if err := put(tx, n, webhook.DeliveryPending); err != nil {
			return err
		}
		return boom
	}), boom)
	require.Equal(t, map[webhook.DeliveryStatus]int{webhook.DeliverySucceeded: n - 5, webhook.DeliveryFailed: 4, webhook.DeliveryPending: 1}, sizes())

	// A prune takes the finished deliveries out of their status list.
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.PruneDeliveries(t0.Add(time.Second), 2*n)
		return err
	}))
	require.Equal(t, map[webhook.DeliveryStatus]int{webhook.DeliveryPending: 1}, sizes())
	ids, _ = list(webhook.DeliveryFailed, store.Page{})
	require.Empty(t, ids)
}
