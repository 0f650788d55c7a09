package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/webhook"
)

var ctx = context.Background()

func TestSkiplistMatchesSortedSet(t *testing.T) {
	l := newSkiplist[int]()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var ref []okey
	rng := rand.New(rand.NewPCG(1, 2))
	cmp := func(a, b okey) int { return a.cmp(b) }
	for i := 0; i < 5000; i++ {
		if len(ref) > 0 && rng.IntN(3) == 0 {
			j := rng.IntN(len(ref))
			require.True(t, l.delete(ref[j]))
			require.False(t, l.delete(ref[j]), "deleted twice")
			ref = slices.Delete(ref, j, j+1)
			continue
		}
		// Few distinct times, so ties on time are ordered by seq.
		k := key(base.Add(time.Duration(rng.IntN(50))*time.Second), int64(i))
		l.insert(k, i)
		j, _ := slices.BinarySearchFunc(ref, k, cmp)
		ref = slices.Insert(ref, j, k)
	}
	require.Equal(t, len(ref), l.n)
	var got []okey
	for x := l.first(); x != nil; x = x.next[0] {
		got = append(got, x.k)
	}
	require.Equal(t, ref, got)
}

// TestHashCollisions runs entries and events through a hash that collides
// constantly, so every lookup, insert and rollback walks a chain.
func TestHashCollisions(t *testing.T) {
	saved := hashString
	hashString = func(s string) uint64 { return uint64(len(s) % 3) }
	t.Cleanup(func() { hashString = saved })

	s := New()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var entries []ledger.Entry
	for i := 0; i < 60; i++ {
		e := ledger.Entry{ID: fmt.Sprintf("le_%d", i), CustomerID: fmt.Sprintf("cus_%d", i%4), Currency: "USD",
			Type: ledger.Credit, Amount: int64(i + 1), IdempotencyKey: fmt.Sprintf("k%d", i/4), CreatedAt: now}
		entries = append(entries, e)
	}
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		for _, e := range entries[:40] {
			require.NoError(t, tx.InsertEntry(e))
			require.NoError(t, tx.InsertEvent(webhook.Event{ID: "evt_" + e.ID, Type: "t", CreatedAt: now}))
		}
		return nil
	}))
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, e := range entries[40:] {
			require.NoError(t, tx.InsertEntry(e))
			require.NoError(t, tx.InsertEvent(webhook.Event{ID: "evt_" + e.ID, Type: "t", CreatedAt: now}))
		}
		return errors("rollback")
	})
	require.Error(t, err)
	require.NoError(t, s.View(ctx, func(tx store.Tx) error {
		for i, e := range entries {
			got, err := tx.Entry(e.ID)
			gotKey, errKey := tx.EntryByKey(e.CustomerID, e.IdempotencyKey)
			_, errEv := tx.Event("evt_" + e.ID)
			if i < 40 {
				require.NoError(t, err)
				require.Equal(t, e, got)
				require.NoError(t, errKey)
				require.Equal(t, e, gotKey)
				require.NoError(t, errEv)
			} else {
				require.ErrorIs(t, err, store.ErrNotFound)
				require.ErrorIs(t, errKey, store.ErrNotFound)
				require.ErrorIs(t, errEv, store.ErrNotFound)
			}
		}
		return nil
	}))
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		e := entries[60-1]
		e.ID, e.CustomerID, e.IdempotencyKey = "le_x", entries[5].CustomerID, entries[5].IdempotencyKey
		return tx.InsertEntry(e)
	}), store.ErrDuplicate)
}

type errors string

func (e errors) Error() string { return string(e) }

func TestPackedRecordsRoundTrip(t *testing.T) {
	s := New()
	zone := time.FixedZone("UTC+3", 3*3600)
	big := json.RawMessage(`{"blob":"` + strings.Repeat("x", arenaChunk/2) + `"}`)
	events := []webhook.Event{
		{ID: "evt_1", Type: "a", Data: json.RawMessage(`{}`), CreatedAt: time.Date(2025, 1, 1, 12, 0, 0, 7, zone)},
		{ID: "evt_2", Type: "b", CustomerID: "cus_1", Data: big, CreatedAt: time.Time{}},
		{ID: "evt_3", Type: "c", Data: nil, CreatedAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		{ID: "evt_4", Type: "d", Data: json.RawMessage{}, Dispatched: true, CreatedAt: time.Unix(1<<40, 0).UTC()},
	}
	e := ledger.Entry{ID: "le_1", CustomerID: "cus_1", Currency: "USD", Type: ledger.Debit, Amount: 5,
		BalanceBefore: 9, BalanceAfter: 4, Reason: strings.Repeat("r", 500), Reference: ledger.Reference{Type: ledger.RefRefund, ID: "re_1"},
		Fingerprint: "fp", CreatedAt: time.Date(2030, 5, 6, 7, 8, 9, 10, time.Local)}
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		for _, ev := range events {
			require.NoError(t, tx.InsertEvent(ev))
		}
		return tx.InsertEntry(e)
	}))
	require.NoError(t, s.View(ctx, func(tx store.Tx) error {
		for i, want := range events {
			got, err := tx.Event(want.ID)
			require.NoError(t, err)
			want.Seq = int64(i + 1)
			require.Equal(t, want, got, want.ID)
		}
		undispatched, err := tx.UndispatchedEvents(10)
		require.NoError(t, err)
		require.Len(t, undispatched, 3)
		got, err := tx.Entry("le_1")
		require.NoError(t, err)
		require.True(t, got.CreatedAt.Equal(e.CreatedAt))
		require.Equal(t, time.Local, got.CreatedAt.Location())
		got.CreatedAt, e.CreatedAt = time.Time{}, time.Time{}
		require.Equal(t, e, got)
		return nil
	}))
}

// TestUndispatchedQueue drives the lazily compacted undispatched-event
// queue through random inserts, dispatches and rollbacks against a model.
func TestUndispatchedQueue(t *testing.T) {
	s := New()
	rng := rand.New(rand.NewPCG(3, 4))
	var model []string // undispatched ids, ascending Seq
	next := 0
	for round := 0; round < 400; round++ {
		pending := slices.Clone(model)
		fail := rng.IntN(4) == 0
		err := s.Update(ctx, func(tx store.Tx) error {
			for k := rng.IntN(20); k > 0; k-- {
				id := fmt.Sprintf("evt_%d", next)
				next++
				require.NoError(t, tx.InsertEvent(webhook.Event{ID: id, Type: "t"}))
				pending = append(pending, id)
			}
			for k := rng.IntN(25); k > 0 && len(pending) > 0; k-- {
				j := rng.IntN(len(pending))
				if rng.IntN(2) == 0 {
					j = 0 // the dispatcher usually takes the oldest
				}
				require.NoError(t, tx.MarkEventDispatched(pending[j]))
				pending = slices.Delete(pending, j, j+1)
			}
			if fail {
				return errors("rollback")
			}
			return nil
		})
		if !fail {
			require.NoError(t, err)
			model = pending
		}
		require.Equal(t, s.undLive, len(model))
		require.NoError(t, s.View(ctx, func(tx store.Tx) error {
			got, err := tx.UndispatchedEvents(len(model) + 10)
			require.NoError(t, err)
			ids := make([]string, len(got))
			for i, e := range got {
				ids[i] = e.ID
			}
			if len(model) == 0 {
				require.Empty(t, ids)
			} else {
				require.Equal(t, model, ids, "round %d", round)
			}
			return nil
		}))
	}
	// Compaction keeps the queue near the live count.
	require.LessOrEqual(t, len(s.undispatched)-s.undHead, s.undLive+s.undLive/8+64+25)
}
