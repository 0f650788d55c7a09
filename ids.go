package coffer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/subscription"
)

// MaxIDLen bounds ids, idempotency keys and cursors, in bytes: what a
// unique index of every store holds.
const MaxIDLen = ledger.MaxKeyLen

// ErrInvalidID: an id, idempotency key or list cursor no record can have
// (not valid UTF-8, holding a NUL byte, or longer than MaxIDLen bytes). It
// is of the 422 class, the same on every store, and is refused before any
// store sees it; a well-formed id that names no record is a not-found
// (404) error instead. The error also wraps the sentinel of the domain the
// id belongs to (customer.ErrInvalid, subscription.ErrInvalid, ...) and is
// a *ParamError naming the parameter.
var ErrInvalidID = fmt.Errorf("%w: malformed id", ErrInvalid)

// ParamError is a validation error about one request parameter (an id, a
// key, a cursor). errors.Is sees through it to ErrInvalidID and the
// domain sentinel it was made with.
type ParamError struct {
	// Param is the parameter, as the API names it ("customer_id",
	// "starting_after", ...).
	Param string
	// Err is the domain's 422-class sentinel.
	Err error
	// Problem says what is wrong (text.ErrNUL, text.ErrNotUTF8, ...).
	Problem error
}

func (e *ParamError) Error() string {
	return e.Err.Error() + ": " + e.Param + " " + e.Problem.Error()
}

// Unwrap returns the domain sentinel, ErrInvalidID and the problem.
func (e *ParamError) Unwrap() []error { return []error{e.Err, ErrInvalidID, e.Problem} }

// checkID refuses an id, key or cursor that no store could hold as it is
// (see ErrInvalidID); invalid is the domain's 422-class sentinel, param the
// parameter's API name. Every Engine method taking one calls it first, so
// memory, bbolt and PostgreSQL answer malformed ids alike (PostgreSQL
// would fail with SQLSTATE 22021, a 500, where the others said not found).
// An empty id passes: "not given" is each caller's own rule.
func checkID(invalid error, param, id string) error {
	if err := text.CheckKey(id, MaxIDLen); err != nil {
		return &ParamError{Param: param, Err: invalid, Problem: err}
	}
	return nil
}

// checkCustomerID is checkID for a customer id (customer.ErrInvalid,
// "customer_id"), the id most methods take.
func checkCustomerID(id string) error { return checkID(customer.ErrInvalid, "customer_id", id) }

// checkStatuses refuses a payment status filter naming a status no payment
// has (422, naming "statuses"), as ListDeliveries refuses an unknown
// delivery status: memory and bbolt listed nothing for it and PostgreSQL
// failed with a 500 when it was not valid UTF-8.
func checkStatuses(statuses []subscription.PaymentStatus) error {
	for _, s := range statuses {
		switch s {
		case subscription.PaymentPending, subscription.PaymentSucceeded, subscription.PaymentFailed,
			subscription.PaymentRefunded, subscription.PaymentPartiallyRefunded:
		default:
			return fmt.Errorf("%w: statuses: unknown payment status %s", subscription.ErrInvalid, text.Quote(string(s)))
		}
	}
	return nil
}

// reservedKeyPrefixes start the idempotency keys coffer gives the records
// it makes itself: the charge of a retry attempt ("retry:<attempt id>"),
// a subscription's initial charge, the automatic refund of a duplicate
// charge, and the ledger entries of holds, refunds, late successes, credit
// expiry and credit purchases ("purchase:<payment id>"), and the payments of
// auto top-ups ("topup:<rule id>:<period>:<attempt>"). A
// caller's key with one of them could take a key coffer needs later (a
// charge keyed "retry:<attempt id>" made before the attempt ran would make
// the attempt fail forever), so callers may not use them.
var reservedKeyPrefixes = [...]string{"retry:", "initial:", "duplicate:", "hold:", "refund:", "late:", "expire:", "purchase:", "topup:"}

// errReservedKey is the problem of a caller's key that starts with a
// reserved prefix.
var errReservedKey = errors.New("starts with a prefix coffer reserves for its own keys (retry:, initial:, duplicate:, hold:, refund:, late:, expire:, purchase:, topup:)")

// IsEngineKey reports whether an idempotency key is one coffer gave a
// record it made itself (it starts with a reserved prefix: "retry:",
// "hold:", "refund:", ...). Callers can never use such a key, so an API
// that shows records may hide it: it is the engine's, not the caller's.
func IsEngineKey(key string) bool {
	for _, p := range reservedKeyPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// checkIdempotencyKey is checkID for a caller's idempotency key, which also
// may not start with a prefix coffer reserves (reservedKeyPrefixes).
func checkIdempotencyKey(invalid error, key string) error {
	if err := checkID(invalid, "idempotency_key", key); err != nil {
		return err
	}
	if IsEngineKey(key) {
		return &ParamError{Param: "idempotency_key", Err: invalid, Problem: errReservedKey}
	}
	return nil
}
