package coffer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// HTTP idempotency, with Stripe's semantics: a request carrying an
// Idempotency-Key header runs once per API key and header value; a retry
// of the same request gets the first response again, a different request
// under the same key is refused. The HTTP layer drives it:
//
//	req := coffer.IdempotentRequest{Scope: key.ID, Key: header, RequestHash: coffer.HashRequest(r.Method, r.URL.Path, body)}
//	resp, err := eng.BeginIdempotent(ctx, req)
//	switch {
//	case err != nil:  // 409 idempotency_key_in_use (retryable), 422 idempotency_key_reused or invalid_idempotency_key
//	case resp != nil: // replay resp, with the header Idempotent-Replayed: true
//	default:          // run the request, then FinishIdempotent (or AbandonIdempotent if it changed nothing)
//	}
//
// The first request holds the key for IdempotencyLock: a retry meanwhile
// is told the key is in use; a request that died holding it (a crash)
// lets a retry take the key over once the lock has run out. The HTTP
// layer's request timeout must therefore be shorter than IdempotencyLock.
// Records live for the idempotency retention (24 hours by default,
// WithIdempotencyRetention): an older record no longer counts, and
// PruneIdempotency deletes it.

// Idempotency constants.
const (
	// IdempotencyLock is how long a request holds its Idempotency-Key
	// before a retry may take the key over.
	IdempotencyLock = time.Minute
	// DefaultIdempotencyRetention is how long an idempotency record counts.
	DefaultIdempotencyRetention = 24 * time.Hour
	// MaxIdempotencyKeyLen bounds an Idempotency-Key header, in bytes.
	MaxIdempotencyKeyLen = 255
	// MaxStoredResponse bounds the response body FinishIdempotent keeps.
	MaxStoredResponse = store.MaxIdemBody
)

// Errors of HTTP idempotency.
var (
	// ErrIdempotencyKeyInUse: a request with this Idempotency-Key is still
	// running (409, idempotency_key_in_use). The client should retry it
	// after a short wait; the HTTP layer marks it retryable.
	ErrIdempotencyKeyInUse = errors.New("coffer: a request with this Idempotency-Key is in progress; retry later")
	// ErrIdempotencyKeyReused: the Idempotency-Key was first used with
	// another request (method, path or body differ): 422,
	// idempotency_key_reused. Stripe answers 400 idempotency_error; coffer
	// keeps every "fix the request" error at 422.
	ErrIdempotencyKeyReused = fmt.Errorf("%w: Idempotency-Key was already used with a different request", ErrInvalid)
	// ErrInvalidIdempotencyKey: the Idempotency-Key header is empty,
	// longer than MaxIdempotencyKeyLen bytes, or holds a character that is
	// not printable ASCII (422, invalid_idempotency_key, param
	// "Idempotency-Key").
	ErrInvalidIdempotencyKey = fmt.Errorf("%w: Idempotency-Key must be 1 to %d printable ASCII characters",
		ErrInvalid, MaxIdempotencyKeyLen)
	// ErrResponseTooLarge: FinishIdempotent was given a body over
	// MaxStoredResponse bytes (500, response_too_large): the HTTP layer
	// should not have asked.
	ErrResponseTooLarge = fmt.Errorf("coffer: idempotent response body over %d bytes", MaxStoredResponse)
)

// IdempotentRequest names one request under an Idempotency-Key.
type IdempotentRequest struct {
	// Scope is the id of the API key that sent the request: keys of
	// different API keys never meet.
	Scope string
	// Key is the Idempotency-Key header.
	Key string
	// RequestHash is the SHA-256 of the request (HashRequest).
	RequestHash []byte
}

// StoredResponse is the response of an idempotent request, replayed to its
// retries.
type StoredResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// HashRequest returns the RequestHash of a request: the SHA-256 of its
// method, path and body, each part length-prefixed so no two requests
// share a hash by moving bytes from one part to the next.
func HashRequest(method, path string, body []byte) []byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(method), []byte(path), body} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return h.Sum(nil)
}

// WithIdempotencyRetention sets how long an idempotency record counts
// (default DefaultIdempotencyRetention): an older one is treated as absent
// by BeginIdempotent, whether or not PruneIdempotency deleted it yet. It
// must be longer than IdempotencyLock.
func WithIdempotencyRetention(d time.Duration) Option {
	return func(e *Engine) error {
		if d <= IdempotencyLock {
			return fmt.Errorf("%w: idempotency retention %v not over %v", ErrInvalidConfig, d, IdempotencyLock)
		}
		e.idemRetention = d
		return nil
	}
}

func (e *Engine) idempotencyRetention() time.Duration {
	if e.idemRetention > 0 {
		return e.idemRetention
	}
	return DefaultIdempotencyRetention
}

// CheckIdempotencyKey refuses an Idempotency-Key header that is empty,
// over MaxIdempotencyKeyLen bytes or not printable ASCII (space to tilde):
// ErrInvalidIdempotencyKey, naming the parameter "Idempotency-Key".
func CheckIdempotencyKey(key string) error {
	bad := len(key) == 0 || len(key) > MaxIdempotencyKeyLen
	for i := 0; i < len(key) && !bad; i++ {
		bad = key[i] < 0x20 || key[i] > 0x7e
	}
	if bad {
		return &customer.FieldError{Field: "Idempotency-Key", Err: ErrInvalidIdempotencyKey}
	}
	return nil
}

func checkIdempotentRequest(r IdempotentRequest) error {
	if r.Scope == "" {
		return fmt.Errorf("%w: idempotent request without a scope (the API key id)", ErrInvalid)
	}
	if err := checkID(ErrInvalid, "scope", r.Scope); err != nil {
		return err
	}
	if err := CheckIdempotencyKey(r.Key); err != nil {
		return err
	}
	if len(r.RequestHash) != sha256.Size {
		return fmt.Errorf("%w: request hash must be a SHA-256 (HashRequest)", ErrInvalid)
	}
	return nil
}

// live reports whether a record still counts at now.
func (e *Engine) live(rec store.IdemRecord, now time.Time) bool {
	return now.Before(rec.CreatedAt.Add(e.idempotencyRetention()))
}

// BeginIdempotent starts a request under an Idempotency-Key.
//
//   - No record (or one past the retention): the request holds the key
//     for IdempotencyLock; it returns (nil, nil), go ahead.
//   - A finished record of the same request: its response, to replay.
//   - The same request still running: ErrIdempotencyKeyInUse (409), or,
//     when its lock has run out, the key is taken over: (nil, nil).
//   - A record of a different request: ErrIdempotencyKeyReused (422).
//
// A malformed key is ErrInvalidIdempotencyKey (422). Concurrent Begins of
// one key, on one engine or several sharing a store, let exactly one go
// ahead.
func (e *Engine) BeginIdempotent(ctx context.Context, r IdempotentRequest) (*StoredResponse, error) {
	if err := checkIdempotentRequest(r); err != nil {
		return nil, err
	}
	var out *StoredResponse
	err := e.update(ctx, func(tx store.Tx) error {
		out = nil
		now := e.clock.Now().UTC()
		fresh := store.IdemRecord{Scope: r.Scope, Key: r.Key, RequestHash: bytes.Clone(r.RequestHash),
			State: store.IdemInProgress, LockedUntil: now.Add(IdempotencyLock), CreatedAt: now}
		rec, err := tx.IdemRecord(r.Scope, r.Key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// ErrDuplicate: a concurrent Begin inserted it first; e.update
			// runs this again, and it finds that record.
			return tx.InsertIdem(fresh)
		case err != nil:
			return err
		case !e.live(rec, now):
			return tx.UpdateIdem(fresh) // expired: a new request
		case subtle.ConstantTimeCompare(rec.RequestHash, r.RequestHash) != 1:
			return ErrIdempotencyKeyReused
		case rec.State == store.IdemDone:
			out = &StoredResponse{Status: rec.Status, ContentType: rec.ContentType, Body: rec.Body}
			return nil
		case now.Before(rec.LockedUntil):
			return ErrIdempotencyKeyInUse
		}
		// The holder's lock ran out (it crashed, or never finished):
		// this request takes the key over, keeping the record's age.
		rec.LockedUntil = now.Add(IdempotencyLock)
		return tx.UpdateIdem(rec)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FinishIdempotent stores the response of a request BeginIdempotent let go
// ahead; its retries get it from then on. A record finished already (by a
// request that took the key over) keeps its first response; a record gone
// (pruned) is written again. The body may hold at most MaxStoredResponse
// bytes (ErrResponseTooLarge). Any status may be stored: a 4xx answer to
// a request that was refused is as much the answer as a 200.
func (e *Engine) FinishIdempotent(ctx context.Context, r IdempotentRequest, resp StoredResponse) error {
	if err := checkIdempotentRequest(r); err != nil {
		return err
	}
	if len(resp.Body) > MaxStoredResponse {
		return ErrResponseTooLarge
	}
	return e.update(ctx, func(tx store.Tx) error {
		now := e.clock.Now().UTC()
		done := store.IdemRecord{Scope: r.Scope, Key: r.Key, RequestHash: bytes.Clone(r.RequestHash),
			State: store.IdemDone, Status: resp.Status, ContentType: resp.ContentType,
			Body: bytes.Clone(resp.Body), CreatedAt: now}
		rec, err := tx.IdemRecord(r.Scope, r.Key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return tx.InsertIdem(done)
		case err != nil:
			return err
		case subtle.ConstantTimeCompare(rec.RequestHash, r.RequestHash) != 1:
			return ErrIdempotencyKeyReused
		case rec.State == store.IdemDone:
			return nil
		}
		done.CreatedAt = rec.CreatedAt
		return tx.UpdateIdem(done)
	})
}

// AbandonIdempotent gives up the key of a request BeginIdempotent let go
// ahead and that failed before it changed anything (a validation error, a
// store outage): the record goes, so a retry runs again instead of getting
// the failure replayed. A finished record, or one of another request, is
// left alone; no record is not an error.
func (e *Engine) AbandonIdempotent(ctx context.Context, r IdempotentRequest) error {
	if err := checkIdempotentRequest(r); err != nil {
		return err
	}
	return e.update(ctx, func(tx store.Tx) error {
		rec, err := tx.IdemRecord(r.Scope, r.Key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		case rec.State != store.IdemInProgress || subtle.ConstantTimeCompare(rec.RequestHash, r.RequestHash) != 1:
			return nil
		}
		return tx.DeleteIdem(r.Scope, r.Key)
	})
}

// PruneIdempotency deletes the idempotency records created before before,
// in or out of progress, oldest first, in transactions of at most the
// engine's Retention.BatchSize records, until none is left or ctx ends, and
// returns how many it deleted. Call it periodically (PruneExpiredIdempotency
// prunes what is past the retention); several engines may prune one store
// at once.
func (e *Engine) PruneIdempotency(ctx context.Context, before time.Time) (int, error) {
	batch := e.retention.BatchSize
	if batch <= 0 {
		batch = DefaultRetentionBatch
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int
		err := e.update(ctx, func(tx store.Tx) (err error) {
			n, err = tx.PruneIdem(before, batch)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}

// PruneExpiredIdempotency is PruneIdempotency of the records past the
// engine's idempotency retention (WithIdempotencyRetention).
func (e *Engine) PruneExpiredIdempotency(ctx context.Context) (int, error) {
	return e.PruneIdempotency(ctx, e.clock.Now().Add(-e.idempotencyRetention()))
}
