package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/store"
)

// RunKeys tests store.Keys: API keys.
func RunKeys(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, newStore) })
	t.Run("QueryAPIKeys", func(t *testing.T) { testQueryAPIKeys(t, newStore) })
}

// RunIdempotency tests store.Idempotency: HTTP idempotency records, their
// retention included.
func RunIdempotency(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Records", func(t *testing.T) { testIdemRecords(t, newStore) })
	t.Run("PruneIdem", func(t *testing.T) { testPruneIdem(t, newStore) })
	t.Run("InsertRace", func(t *testing.T) { testIdemInsertRace(t, newStore) })
}

func newAPIKey(customerID string, created time.Time) apikey.Key {
	secret := apikey.NewSecret(false)
	return apikey.Key{ID: newID("key"), Name: "ci " + secret[20:24], Prefix: secret[:apikey.PrefixLen],
		CustomerID: customerID, Livemode: customerID == "", CreatedAt: created, Hash: apikey.Hash(secret)}
}

func testAPIKeys(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	c := newCustomer(1)
	restricted := newAPIKey(c.ID, t0)
	open := newAPIKey("", t0.Add(time.Second))
	open.RevokedAt = t0.Add(time.Hour)
	update(t, s, func(tx store.Tx) {
		require.NoError(t, tx.InsertCustomer(c))
		require.NoError(t, tx.InsertAPIKey(restricted))
		require.NoError(t, tx.InsertAPIKey(open))
		got, err := tx.APIKey(restricted.ID)
		require.NoError(t, err)
		require.Equal(t, restricted, got, "a transaction reads its own insert")

		dupID := newAPIKey("", t0)
		dupID.ID = open.ID
		require.ErrorIs(t, tx.InsertAPIKey(dupID), store.ErrDuplicate, "taken id")
		dupHash := newAPIKey("", t0)
		dupHash.Hash = restricted.Hash
		require.ErrorIs(t, tx.InsertAPIKey(dupHash), store.ErrDuplicate, "taken hash")
		_, err = tx.APIKey(dupHash.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "a refused insert writes nothing")
		_, err = tx.APIKey(open.ID)
		require.NoError(t, err, "the transaction goes on after ErrDuplicate")
	})
	view(t, s, func(tx store.Tx) {
		for _, k := range []apikey.Key{restricted, open} {
			got, err := tx.APIKey(k.ID)
			require.NoError(t, err)
			require.Equal(t, k, got, "every field round-trips, Hash included")
			got, err = tx.APIKeyByHash(k.Hash)
			require.NoError(t, err)
			require.Equal(t, k, got)
		}
		_, err := tx.APIKeyByHash(apikey.Hash("sk_test_nothing"))
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.APIKeyByHash(nil)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.APIKey(newID("key"))
		require.ErrorIs(t, err, store.ErrNotFound)

		// Values, not references.
		got, err := tx.APIKey(open.ID)
		require.NoError(t, err)
		got.Hash[0] ^= 0xff
		again, err := tx.APIKey(open.ID)
		require.NoError(t, err)
		require.Equal(t, open.Hash, again.Hash)

		require.ErrorIs(t, tx.InsertAPIKey(newAPIKey("", t0)), store.ErrReadOnly)
		require.ErrorIs(t, tx.UpdateAPIKey(open), store.ErrReadOnly)
	})

	// Revoke, and move the hash: the index follows.
	revoked := restricted
	revoked.RevokedAt = t0.Add(2 * time.Hour)
	revoked.Name = "renamed"
	oldHash := revoked.Hash
	revoked.Hash = apikey.Hash(apikey.NewSecret(false))
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.UpdateAPIKey(revoked)) })
	view(t, s, func(tx store.Tx) {
		got, err := tx.APIKey(revoked.ID)
		require.NoError(t, err)
		require.Equal(t, revoked, got)
		got, err = tx.APIKeyByHash(revoked.Hash)
		require.NoError(t, err)
		require.Equal(t, revoked.ID, got.ID)
		_, err = tx.APIKeyByHash(oldHash)
		require.ErrorIs(t, err, store.ErrNotFound, "the old hash is free")
	})

	// An update to another key's hash, of a missing key; a rollback.
	taken := revoked
	taken.Hash = open.Hash
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.UpdateAPIKey(taken) }), store.ErrDuplicate)
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.UpdateAPIKey(newAPIKey("", t0)) }), store.ErrNotFound)
	boom := errors.New("boom")
	ghost := newAPIKey("", t0)
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		require.NoError(t, tx.InsertAPIKey(ghost))
		back := revoked
		back.RevokedAt = time.Time{}
		back.Hash = oldHash
		require.NoError(t, tx.UpdateAPIKey(back))
		return boom
	}), boom)
	view(t, s, func(tx store.Tx) {
		_, err := tx.APIKey(ghost.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "a rolled-back insert leaves no trace")
		_, err = tx.APIKeyByHash(ghost.Hash)
		require.ErrorIs(t, err, store.ErrNotFound)
		got, err := tx.APIKey(revoked.ID)
		require.NoError(t, err)
		require.Equal(t, revoked, got, "a rolled-back update leaves no trace")
		_, err = tx.APIKeyByHash(oldHash)
		require.ErrorIs(t, err, store.ErrNotFound)
		list, _, err := tx.QueryAPIKeys(store.APIKeyListQuery{})
		require.NoError(t, err)
		require.Len(t, list, 2)
	})
}

func testQueryAPIKeys(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	var keys []apikey.Key // oldest first
	update(t, s, func(tx store.Tx) {
		for i := range 7 {
			at := t0.Add(time.Duration(i/2) * time.Minute) // pairs share a CreatedAt: insertion order breaks ties
			k := newAPIKey("", at)
			require.NoError(t, tx.InsertAPIKey(k))
			keys = append(keys, k)
		}
	})
	ids := func(l []apikey.Key) []string {
		var out []string
		for _, k := range l {
			out = append(out, k.ID)
		}
		return out
	}
	want := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, keys[i].ID)
		}
		return out
	}
	view(t, s, func(tx store.Tx) {
		list, more, err := tx.QueryAPIKeys(store.APIKeyListQuery{})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, want(6, 5, 4, 3, 2, 1, 0), ids(list), "newest first")
		require.Equal(t, keys[6], list[0], "listed keys carry every field")

		list, more, err = tx.QueryAPIKeys(store.APIKeyListQuery{Page: store.Page{Limit: 3}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, want(6, 5, 4), ids(list))
		list, more, err = tx.QueryAPIKeys(store.APIKeyListQuery{Page: store.Page{Limit: 3, StartingAfter: keys[4].ID}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, want(3, 2, 1), ids(list))
		list, more, err = tx.QueryAPIKeys(store.APIKeyListQuery{Page: store.Page{Limit: 3, StartingAfter: keys[1].ID}})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, want(0), ids(list))

		list, more, err = tx.QueryAPIKeys(store.APIKeyListQuery{Page: store.Page{Limit: 2, EndingBefore: keys[2].ID}})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, want(4, 3), ids(list), "the keys just newer than the cursor, newest first")

		_, _, err = tx.QueryAPIKeys(store.APIKeyListQuery{Page: store.Page{StartingAfter: newID("key")}})
		require.ErrorIs(t, err, store.ErrNotFound, "unknown cursor")
	})
}

func newIdem(scope, key string, created time.Time) store.IdemRecord {
	h := sha256.Sum256([]byte("POST /customers " + key))
	return store.IdemRecord{Scope: scope, Key: key, RequestHash: h[:], State: store.IdemInProgress,
		LockedUntil: created.Add(time.Minute), CreatedAt: created}
}

func testIdemRecords(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	a := newIdem("key_a", "k1", t0)
	b := newIdem("key_b", "k1", t0) // same key, another scope
	update(t, s, func(tx store.Tx) {
		require.NoError(t, tx.InsertIdem(a))
		require.NoError(t, tx.InsertIdem(b))
		dup := newIdem("key_a", "k1", t0.Add(time.Hour))
		require.ErrorIs(t, tx.InsertIdem(dup), store.ErrDuplicate)
		got, err := tx.IdemRecord("key_a", "k1")
		require.NoError(t, err)
		require.Equal(t, a, got, "a refused insert changes nothing; the transaction goes on")
	})
	view(t, s, func(tx store.Tx) {
		got, err := tx.IdemRecord("key_a", "k1")
		require.NoError(t, err)
		require.Equal(t, a, got)
		got, err = tx.IdemRecord("key_b", "k1")
		require.NoError(t, err)
		require.Equal(t, b, got)
		_, err = tx.IdemRecord("key_a", "k2")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = tx.IdemRecord("key_c", "k1")
		require.ErrorIs(t, err, store.ErrNotFound)
		// The scope and key are kept apart whatever they hold.
		_, err = tx.IdemRecord("key_ak", "1")
		require.ErrorIs(t, err, store.ErrNotFound)

		got.RequestHash[0] ^= 0xff
		again, err := tx.IdemRecord("key_b", "k1")
		require.NoError(t, err)
		require.Equal(t, b.RequestHash, again.RequestHash, "values, not references")

		require.ErrorIs(t, tx.InsertIdem(newIdem("x", "y", t0)), store.ErrReadOnly)
		require.ErrorIs(t, tx.UpdateIdem(a), store.ErrReadOnly)
		require.ErrorIs(t, tx.DeleteIdem("key_a", "k1"), store.ErrReadOnly)
		_, err = tx.PruneIdem(t0, 1)
		require.ErrorIs(t, err, store.ErrReadOnly)
	})

	done := a
	done.State, done.Status, done.ContentType = store.IdemDone, 201, "application/json"
	done.Body = []byte(`{"id":"cus_1","name":"é"}` + "\x00\xff")
	done.LockedUntil = time.Time{}
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.UpdateIdem(done)) })
	view(t, s, func(tx store.Tx) {
		got, err := tx.IdemRecord("key_a", "k1")
		require.NoError(t, err)
		require.Equal(t, done, got, "the response round-trips byte for byte")
	})
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.UpdateIdem(newIdem("key_a", "nope", t0)) }), store.ErrNotFound)
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.DeleteIdem("key_a", "nope") }), store.ErrNotFound)

	// Delete, rolled back and then committed; the key is free again.
	boom := errors.New("boom")
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		require.NoError(t, tx.DeleteIdem("key_b", "k1"))
		_, err := tx.IdemRecord("key_b", "k1")
		require.ErrorIs(t, err, store.ErrNotFound, "the transaction sees its delete")
		require.NoError(t, tx.UpdateIdem(a))
		return boom
	}), boom)
	view(t, s, func(tx store.Tx) {
		got, err := tx.IdemRecord("key_b", "k1")
		require.NoError(t, err)
		require.Equal(t, b, got)
		got, err = tx.IdemRecord("key_a", "k1")
		require.NoError(t, err)
		require.Equal(t, done, got)
	})
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.DeleteIdem("key_b", "k1")) })
	again := newIdem("key_b", "k1", t0.Add(time.Minute))
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertIdem(again)) })
	view(t, s, func(tx store.Tx) {
		got, err := tx.IdemRecord("key_b", "k1")
		require.NoError(t, err)
		require.Equal(t, again, got)
	})
}

func pruneIdem(t *testing.T, s store.Store, before time.Time, limit int) int {
	t.Helper()
	var n int
	update(t, s, func(tx store.Tx) {
		var err error
		n, err = tx.PruneIdem(before, limit)
		require.NoError(t, err)
	})
	return n
}

func testPruneIdem(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	cut := t0
	var old []store.IdemRecord
	for i := range 5 {
		r := newIdem("key_a", fmt.Sprint("old", i), cut.Add(-time.Duration(10-i)*time.Hour))
		if i%2 == 0 {
			r.State, r.Status, r.Body = store.IdemDone, 200, []byte("{}")
		}
		old = append(old, r)
	}
	atCut := newIdem("key_a", "at-cut", cut)
	recent := newIdem("key_a", "recent", cut.Add(time.Hour))
	moved := newIdem("key_a", "moved", cut.Add(time.Hour)) // made old by an update
	update(t, s, func(tx store.Tx) {
		for _, r := range []store.IdemRecord{old[3], atCut, old[1], recent, old[4], old[0], moved, old[2]} {
			require.NoError(t, tx.InsertIdem(r))
		}
	})
	moved.CreatedAt = cut.Add(-time.Minute)
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.UpdateIdem(moved)) })

	boom := errors.New("boom")
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		n, err := tx.PruneIdem(cut, 100)
		require.NoError(t, err)
		require.Equal(t, 6, n)
		_, err = tx.IdemRecord("key_a", "old0")
		require.ErrorIs(t, err, store.ErrNotFound, "the transaction sees its own prune")
		return boom
	}), boom)
	exists := func(key string) bool {
		var err error
		view(t, s, func(tx store.Tx) { _, err = tx.IdemRecord("key_a", key) })
		if err != nil {
			require.ErrorIs(t, err, store.ErrNotFound)
		}
		return err == nil
	}
	for _, r := range old {
		require.True(t, exists(r.Key), "a rolled-back prune deletes nothing: %s", r.Key)
	}

	require.Equal(t, 2, pruneIdem(t, s, cut, 2), "a batch is bounded")
	require.False(t, exists("old0"), "oldest first")
	require.False(t, exists("old1"))
	require.True(t, exists("old2"))
	require.Equal(t, 4, pruneIdem(t, s, cut, 0), "limit <= 0 is DefaultLimit")
	for _, r := range old {
		require.False(t, exists(r.Key))
	}
	require.False(t, exists("moved"), "an update moved it into the past")
	require.True(t, exists("at-cut"), "before is exclusive")
	require.True(t, exists("recent"))
	require.Equal(t, 0, pruneIdem(t, s, cut, 10))

	// A pruned key is free again.
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertIdem(newIdem("key_a", "old0", cut))) })
	require.True(t, exists("old0"))
}

// testIdemInsertRace: concurrent Updates that each read a missing record and
// insert it. Exactly one commits its insert; every other one sees
// ErrDuplicate (or, re-run by its adapter, finds the winner's record).
func testIdemInsertRace(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	const n = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inserted int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newIdem("key_race", "k", t0)
			r.Status = i
			won := false
			err := s.Update(ctx, func(tx store.Tx) error {
				won = false
				_, err := tx.IdemRecord(r.Scope, r.Key)
				if err == nil {
					return nil // another insert committed first
				}
				if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if err := tx.InsertIdem(r); err != nil {
					return err
				}
				won = true
				return nil
			})
			if err != nil {
				require.ErrorIs(t, err, store.ErrDuplicate)
				return
			}
			if won {
				mu.Lock()
				inserted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, inserted)
}
