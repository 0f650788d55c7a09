package coffer

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/internal/text"
)

// Errors of the root package. Domain errors come from their packages
// (wallet.ErrInsufficientFunds, ledger.ErrIdempotencyConflict, ...);
// HTTPStatus classifies all of them.
var (
	ErrInvalid       = errors.New("coffer: invalid request")
	ErrInvalidLimit  = fmt.Errorf("%w: limit must be between 1 and 100", ErrInvalid)
	ErrInvalidCursor = fmt.Errorf("%w: unknown starting_after/ending_before id", ErrInvalid)
	ErrInvalidConfig = errors.New("coffer: invalid configuration")
	// ErrNoProcessor: the operation needs a payment processor and the
	// engine has none (WithProcessor).
	ErrNoProcessor = charge.ErrNoProcessor
	// ErrEndpointNotFound: unknown webhook endpoint.
	ErrEndpointNotFound = errors.New("coffer: webhook endpoint not found")
)

// HTTPStatus maps an error from coffer to the HTTP status an API built on
// it should answer: the status of AsError(err)'s kind — 400 insufficient
// balance, 401 no valid API key, 403 an API key not allowed to, 404 unknown
// record, 409 duplicate or conflicting request, 422
// invalid input, 499 cancelled by the caller, 503 processor unavailable or
// not configured, 504 deadline passed, 500 otherwise (and 200 for nil).
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return AsError(err).HTTPStatus()
}

// checkText applies the storable-text rule (valid UTF-8, no NUL, at most
// max characters) to one request field; invalid is the 422-class sentinel
// the error wraps.
func checkText(invalid error, field, s string, max int) error {
	if err := text.Check(s, max); err != nil {
		return fmt.Errorf("%w: %s %v", invalid, field, err)
	}
	return nil
}

// checkKey is checkID: idempotency keys and the ids inside request params
// follow the id rule (ErrInvalidID).
func checkKey(invalid error, field, s string) error { return checkID(invalid, field, s) }

// maxTextLen bounds free-text request fields (descriptions, reasons, names).
const maxTextLen = 500
