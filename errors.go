package coffer

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
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
	ErrNoProcessor = errors.New("coffer: no payment processor configured")
	// ErrEndpointNotFound: unknown webhook endpoint.
	ErrEndpointNotFound = errors.New("coffer: webhook endpoint not found")
)

// HTTPStatus maps an error from coffer to the HTTP status class an API
// built on it should answer: 400 insufficient balance, 404 unknown record,
// 409 duplicate or conflicting request, 422 invalid input, 500 otherwise
// (and 200 for nil).
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, wallet.ErrInsufficientFunds):
		return http.StatusBadRequest
	case errors.Is(err, customer.ErrNotFound), errors.Is(err, wallet.ErrNotFound),
		errors.Is(err, ledger.ErrNotFound), errors.Is(err, ledger.ErrHoldNotFound),
		errors.Is(err, subscription.ErrNotFound), errors.Is(err, subscription.ErrPaymentNotFound),
		errors.Is(err, subscription.ErrProductNotFound), errors.Is(err, ErrEndpointNotFound),
		errors.Is(err, ErrDeliveryNotFound):
		return http.StatusNotFound
	case errors.Is(err, ledger.ErrIdempotencyConflict), errors.Is(err, customer.ErrDuplicateDID),
		errors.Is(err, subscription.ErrIdempotencyConflict), errors.Is(err, subscription.ErrNotActive),
		errors.Is(err, subscription.ErrNotRefundable), errors.Is(err, ledger.ErrHoldNotPending),
		errors.Is(err, ErrNotOverdue):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid), errors.Is(err, customer.ErrInvalid), errors.Is(err, ledger.ErrInvalid),
		errors.Is(err, subscription.ErrInvalid), errors.Is(err, retry.ErrInvalidPolicy),
		errors.Is(err, money.ErrUnknownCurrency), errors.Is(err, money.ErrCurrencyDisabled),
		errors.Is(err, money.ErrOverflow), errors.Is(err, money.ErrPrecision), errors.Is(err, money.ErrSyntax),
		errors.Is(err, money.ErrCurrencyMismatch):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
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
