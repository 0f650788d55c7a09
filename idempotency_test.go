package coffer

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
)

func idemReq(scope, key, body string) IdempotentRequest {
	return IdempotentRequest{Scope: scope, Key: key, RequestHash: HashRequest(http.MethodPost, "/customers", []byte(body))}
}

func TestIdempotentReplay(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		req := idemReq("key_a", "k-1", `{"name":"a"}`)

		resp, err := v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		require.Nil(t, resp, "no record: go ahead")

		_, err = v.BeginIdempotent(v.ctx, req)
		require.ErrorIs(t, err, ErrIdempotencyKeyInUse, "the first request still holds the key")
		e := AsError(err)
		require.Equal(t, "idempotency_key_in_use", e.Code)
		require.Equal(t, http.StatusConflict, e.HTTPStatus())

		other := idemReq("key_a", "k-1", `{"name":"b"}`)
		_, err = v.BeginIdempotent(v.ctx, other)
		require.ErrorIs(t, err, ErrIdempotencyKeyReused, "another body under the key, while in progress")

		body := []byte(`{"id":"cus_1"}`)
		require.NoError(t, v.FinishIdempotent(v.ctx, req, StoredResponse{Status: 201, ContentType: "application/json", Body: body}))
		body[0] = 'X' // the stored response is a copy

		for range 2 {
			resp, err = v.BeginIdempotent(v.ctx, req)
			require.NoError(t, err)
			require.Equal(t, &StoredResponse{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"cus_1"}`)}, resp)
		}
		_, err = v.BeginIdempotent(v.ctx, other)
		require.ErrorIs(t, err, ErrIdempotencyKeyReused, "another body under the key, once done")
		e = AsError(err)
		require.Equal(t, "idempotency_key_reused", e.Code)
		require.Equal(t, http.StatusUnprocessableEntity, e.HTTPStatus())
		for _, r := range []IdempotentRequest{
			{Scope: req.Scope, Key: req.Key, RequestHash: HashRequest(http.MethodPut, "/customers", []byte(`{"name":"a"}`))},
			{Scope: req.Scope, Key: req.Key, RequestHash: HashRequest(http.MethodPost, "/customer", []byte(`s{"name":"a"}`))},
		} {
			_, err = v.BeginIdempotent(v.ctx, r)
			require.ErrorIs(t, err, ErrIdempotencyKeyReused, "method and path count")
		}

		// A second finish keeps the first response.
		require.NoError(t, v.FinishIdempotent(v.ctx, req, StoredResponse{Status: 500}))
		resp, err = v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		require.Equal(t, 201, resp.Status)
		require.ErrorIs(t, v.FinishIdempotent(v.ctx, other, StoredResponse{Status: 200}), ErrIdempotencyKeyReused)

		// Another API key, the same header: its own record.
		resp, err = v.BeginIdempotent(v.ctx, idemReq("key_b", "k-1", `{"name":"b"}`))
		require.NoError(t, err)
		require.Nil(t, resp)

		// An empty body and any status are stored as given.
		r2 := idemReq("key_a", "k-2", "")
		_, err = v.BeginIdempotent(v.ctx, r2)
		require.NoError(t, err)
		require.NoError(t, v.FinishIdempotent(v.ctx, r2, StoredResponse{Status: 422, ContentType: "application/json", Body: []byte("{}")}))
		resp, err = v.BeginIdempotent(v.ctx, r2)
		require.NoError(t, err)
		require.Equal(t, 422, resp.Status)
	})
}

func TestIdempotentLockExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		req := idemReq("key_a", "crash", "{}")
		_, err := v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		v.clock.Advance(IdempotencyLock - time.Second)
		_, err = v.BeginIdempotent(v.ctx, req)
		require.ErrorIs(t, err, ErrIdempotencyKeyInUse, "the lock holds until LockedUntil")

		v.clock.Advance(time.Second) // the holder died: its lock ran out
		resp, err := v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		require.Nil(t, resp, "taken over")
		_, err = v.BeginIdempotent(v.ctx, req)
		require.ErrorIs(t, err, ErrIdempotencyKeyInUse, "the new holder has a fresh lock")

		v.clock.Advance(2 * IdempotencyLock)
		_, err = v.BeginIdempotent(v.ctx, idemReq("key_a", "crash", "another"))
		require.ErrorIs(t, err, ErrIdempotencyKeyReused, "an expired lock is no licence for another request")

		require.NoError(t, v.FinishIdempotent(v.ctx, req, StoredResponse{Status: 200, Body: []byte("ok")}))
		resp, err = v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		require.Equal(t, []byte("ok"), resp.Body)
	})
}

func TestIdempotentAbandon(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		req := idemReq("key_a", "k", "{}")
		_, err := v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		require.NoError(t, v.AbandonIdempotent(v.ctx, idemReq("key_a", "k", "other")), "not its record: left alone")
		_, err = v.BeginIdempotent(v.ctx, req)
		require.ErrorIs(t, err, ErrIdempotencyKeyInUse)

		require.NoError(t, v.AbandonIdempotent(v.ctx, req))
		resp, err := v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		require.Nil(t, resp, "abandoned: a retry runs again")
		// A different request may now use the key too: nothing was done.
		require.NoError(t, v.AbandonIdempotent(v.ctx, req))
		_, err = v.BeginIdempotent(v.ctx, idemReq("key_a", "k", "other"))
		require.NoError(t, err)
		require.NoError(t, v.FinishIdempotent(v.ctx, idemReq("key_a", "k", "other"), StoredResponse{Status: 200}))

		require.NoError(t, v.AbandonIdempotent(v.ctx, idemReq("key_a", "k", "other")), "a finished record stays")
		resp, err = v.BeginIdempotent(v.ctx, idemReq("key_a", "k", "other"))
		require.NoError(t, err)
		require.Equal(t, 200, resp.Status)
		require.NoError(t, v.AbandonIdempotent(v.ctx, idemReq("key_a", "none", "{}")), "no record is no error")

		// A record gone (pruned) before Finish is written again.
		r := idemReq("key_a", "late", "{}")
		require.NoError(t, v.FinishIdempotent(v.ctx, r, StoredResponse{Status: 202}))
		resp, err = v.BeginIdempotent(v.ctx, r)
		require.NoError(t, err)
		require.Equal(t, 202, resp.Status)
	})
}

func TestIdempotentRetention(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		req := idemReq("key_a", "k", "{}")
		_, err := v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		require.NoError(t, v.FinishIdempotent(v.ctx, req, StoredResponse{Status: 201}))
		v.clock.Advance(DefaultIdempotencyRetention - time.Second)
		resp, err := v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		require.NotNil(t, resp, "still counts")
		v.clock.Advance(time.Second)
		resp, err = v.BeginIdempotent(v.ctx, idemReq("key_a", "k", "a new request"))
		require.NoError(t, err)
		require.Nil(t, resp, "past the retention the key is free, pruned or not")

		_, err = New(memoryStore(t), WithoutProcessor(), WithIdempotencyRetention(IdempotencyLock))
		require.ErrorIs(t, err, ErrInvalidConfig)
		w := newEnv(t, newStore, WithIdempotencyRetention(time.Hour))
		_, err = w.BeginIdempotent(w.ctx, req)
		require.NoError(t, err)
		w.clock.Advance(time.Hour)
		resp, err = w.BeginIdempotent(w.ctx, req)
		require.NoError(t, err)
		require.Nil(t, resp, "a shorter retention, also for a record in progress")
	})
}

func memoryStore(t *testing.T) store.Store { return storeKinds["memory"](t) }

func TestIdempotencyKeyValidation(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		for _, key := range []string{"", strings.Repeat("k", MaxIdempotencyKeyLen+1), "a\nb", "tab\t", "\x00", "é", "del\x7f"} {
			req := idemReq("key_a", key, "{}")
			_, err := v.BeginIdempotent(v.ctx, req)
			require.ErrorIs(t, err, ErrInvalidIdempotencyKey, "%q", key)
			e := AsError(err)
			require.Equal(t, "invalid_idempotency_key", e.Code)
			require.Equal(t, "Idempotency-Key", e.Param)
			require.Equal(t, http.StatusUnprocessableEntity, e.HTTPStatus())
			require.ErrorIs(t, v.FinishIdempotent(v.ctx, req, StoredResponse{}), ErrInvalidIdempotencyKey)
			require.ErrorIs(t, v.AbandonIdempotent(v.ctx, req), ErrInvalidIdempotencyKey)
		}
		for _, key := range []string{strings.Repeat("k", MaxIdempotencyKeyLen), "a", "with space ~!", "550e8400-e29b-41d4-a716-446655440000"} {
			_, err := v.BeginIdempotent(v.ctx, idemReq("key_a", key, "{}"))
			require.NoError(t, err, "%q", key)
		}
		_, err := v.BeginIdempotent(v.ctx, IdempotentRequest{Scope: "key_a", Key: "k", RequestHash: []byte("short")})
		require.ErrorIs(t, err, ErrInvalid)
		_, err = v.BeginIdempotent(v.ctx, IdempotentRequest{Key: "k", RequestHash: HashRequest("POST", "/", nil)})
		require.ErrorIs(t, err, ErrInvalid, "a scope is required")
		_, err = v.BeginIdempotent(v.ctx, IdempotentRequest{Scope: "key_\x00", Key: "k", RequestHash: HashRequest("POST", "/", nil)})
		require.Equal(t, "invalid_id", ErrorCode(err))

		req := idemReq("key_a", "big", "{}")
		_, err = v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		err = v.FinishIdempotent(v.ctx, req, StoredResponse{Status: 200, Body: make([]byte, MaxStoredResponse+1)})
		require.ErrorIs(t, err, ErrResponseTooLarge)
		require.Equal(t, "response_too_large", ErrorCode(err))
		big := bytes.Repeat([]byte("x"), MaxStoredResponse)
		require.NoError(t, v.FinishIdempotent(v.ctx, req, StoredResponse{Status: 200, Body: big}))
		resp, err := v.BeginIdempotent(v.ctx, req)
		require.NoError(t, err)
		require.Equal(t, big, resp.Body, "a body of exactly the bound is kept")
	})
}

func TestPruneIdempotency(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore, WithRetention(Retention{BatchSize: 2}))
		var old []IdempotentRequest
		for i := range 5 {
			r := idemReq("key_a", "old-"+string(rune('a'+i)), "{}")
			_, err := v.BeginIdempotent(v.ctx, r)
			require.NoError(t, err)
			if i%2 == 0 {
				require.NoError(t, v.FinishIdempotent(v.ctx, r, StoredResponse{Status: 200}))
			}
			old = append(old, r)
		}
		v.clock.Advance(2 * time.Hour)
		recent := idemReq("key_a", "recent", "{}")
		_, err := v.BeginIdempotent(v.ctx, recent)
		require.NoError(t, err)

		n, err := v.PruneIdempotency(v.ctx, v.clock.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, 5, n, "in batches of 2, until a batch comes back short")
		for _, r := range old {
			resp, err := v.BeginIdempotent(v.ctx, r)
			require.NoError(t, err)
			require.Nil(t, resp, "pruned: the key is free (%s)", r.Key)
		}
		_, err = v.BeginIdempotent(v.ctx, recent)
		require.ErrorIs(t, err, ErrIdempotencyKeyInUse, "a recent record is kept")
		n, err = v.PruneIdempotency(v.ctx, v.clock.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, 0, n)

		v.clock.Advance(DefaultIdempotencyRetention)
		n, err = v.PruneExpiredIdempotency(v.ctx)
		require.NoError(t, err)
		require.Equal(t, 0, n, "created exactly one retention ago: not yet")
		v.clock.Advance(time.Second)
		n, err = v.PruneExpiredIdempotency(v.ctx)
		require.NoError(t, err)
		require.Equal(t, 6, n)

		ctx, cancel := context.WithCancel(v.ctx)
		cancel()
		_, err = v.PruneIdempotency(ctx, v.clock.Now())
		require.Equal(t, "canceled", ErrorCode(err))
	})
}

// TestIdempotentRace: N requests Begin one (scope, key) at once; exactly
// one goes ahead, every other is told the key is in use. After Finish,
// N more all get the replay.
func TestIdempotentRace(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		req := idemReq("key_race", "k", `{"amount":100}`)
		const n = 8
		begin := func() (ahead, inUse, replayed int) {
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				start = make(chan struct{})
			)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					resp, err := v.BeginIdempotent(v.ctx, req)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil && resp == nil:
						ahead++
					case err == nil:
						replayed++
						require.Equal(t, 201, resp.Status)
					default:
						require.ErrorIs(t, err, ErrIdempotencyKeyInUse)
						inUse++
					}
				}()
			}
			close(start)
			wg.Wait()
			return
		}
		ahead, inUse, replayed := begin()
		require.Equal(t, 1, ahead)
		require.Equal(t, n-1, inUse)
		require.Zero(t, replayed)

		require.NoError(t, v.FinishIdempotent(v.ctx, req, StoredResponse{Status: 201, Body: []byte("{}")}))
		ahead, inUse, replayed = begin()
		require.Zero(t, ahead)
		require.Zero(t, inUse)
		require.Equal(t, n, replayed)
	})
}
