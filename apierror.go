package coffer

import (
	"context"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// Kind is the class of a failure. It decides the HTTP status an API built
// on coffer answers (Error.HTTPStatus) and whether a client may retry.
type Kind string

// Kinds of failure.
const (
	// KindInvalid: the request is malformed or breaks a rule; fix it
	// before sending it again (422).
	KindInvalid Kind = "invalid_request"
	// KindInsufficientFunds: a wallet balance does not cover a debit (400).
	KindInsufficientFunds Kind = "insufficient_funds"
	// KindUnauthenticated: the request presented no valid API key (401).
	KindUnauthenticated Kind = "unauthenticated"
	// KindForbidden: the API key is valid but may not do this (403).
	KindForbidden Kind = "forbidden"
	// KindNotFound: a record the request names does not exist (404).
	KindNotFound Kind = "not_found"
	// KindConflict: the request conflicts with the state of a record or
	// with an earlier request under the same idempotency key (409).
	KindConflict Kind = "conflict"
	// KindUnavailable: a dependency (the payment processor, the store) is
	// unavailable; the same request may succeed later (503).
	KindUnavailable Kind = "unavailable"
	// KindCanceled: the caller's context was cancelled (499, the status
	// proxies use for a client that closed the request).
	KindCanceled Kind = "canceled"
	// KindTimeout: the caller's deadline passed (504).
	KindTimeout Kind = "timeout"
	// KindInternal: anything else; a bug or a store failure (500).
	KindInternal Kind = "internal"
)

// StatusClientClosedRequest is the HTTP status of KindCanceled.
const StatusClientClosedRequest = 499

// HTTPStatus is the HTTP status of the kind.
func (k Kind) HTTPStatus() int {
	switch k {
	case KindInvalid:
		return http.StatusUnprocessableEntity
	case KindInsufficientFunds:
		return http.StatusBadRequest
	case KindUnauthenticated:
		return http.StatusUnauthorized
	case KindForbidden:
		return http.StatusForbidden
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindUnavailable:
		return http.StatusServiceUnavailable
	case KindCanceled:
		return StatusClientClosedRequest
	case KindTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Error is the shape of every failure coffer reports: a kind (the HTTP
// class), a stable machine-readable code, the offending request parameter
// when there is one, and a message for people. It wraps the cause, so
// errors.Is with the package sentinels (wallet.ErrInsufficientFunds, ...)
// keeps working on it.
type Error struct {
	Kind    Kind   `json:"kind"`
	Code    string `json:"code"`
	Param   string `json:"param,omitempty"`
	Message string `json:"message"`
	cause   error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.cause }

// HTTPStatus is the HTTP status of the error's kind.
func (e *Error) HTTPStatus() int { return e.Kind.HTTPStatus() }

// errorCode is one row of the code table: a sentinel and what it means on
// the wire.
type errorCode struct {
	sentinel error
	kind     Kind
	code     string
}

// errorCodes maps every sentinel a public call can return to its kind and
// code. More specific sentinels come before the ones they wrap (errors.Is
// matches both). The README's error table lists the same rows; a test keeps
// them in step.
var errorCodes = []errorCode{
	// 400
	{wallet.ErrInsufficientFunds, KindInsufficientFunds, "insufficient_funds"},
	// 401, 403
	{ErrUnauthenticated, KindUnauthenticated, "invalid_api_key"},
	{ErrForbidden, KindForbidden, "forbidden"},
	// 404
	{customer.ErrNotFound, KindNotFound, "customer_not_found"},
	{wallet.ErrNotFound, KindNotFound, "wallet_not_found"},
	{ledger.ErrNotFound, KindNotFound, "entry_not_found"},
	{ledger.ErrHoldNotFound, KindNotFound, "hold_not_found"},
	{subscription.ErrNotFound, KindNotFound, "subscription_not_found"},
	{subscription.ErrPaymentNotFound, KindNotFound, "payment_not_found"},
	{subscription.ErrProductNotFound, KindNotFound, "product_not_found"},
	{ErrEndpointNotFound, KindNotFound, "endpoint_not_found"},
	{ErrDeliveryNotFound, KindNotFound, "delivery_not_found"},
	{ErrEventNotFound, KindNotFound, "event_not_found"},
	{apikey.ErrNotFound, KindNotFound, "api_key_not_found"},
	{ErrInvoiceNotFound, KindNotFound, "invoice_not_found"},
	{ErrTopUpNotFound, KindNotFound, "auto_top_up_not_found"},
	// 409
	{ledger.ErrIdempotencyConflict, KindConflict, "idempotency_conflict"},
	{subscription.ErrIdempotencyConflict, KindConflict, "idempotency_conflict"},
	{customer.ErrDuplicateDID, KindConflict, "duplicate_did"},
	{subscription.ErrNotActive, KindConflict, "subscription_not_active"},
	{subscription.ErrNotRefundable, KindConflict, "payment_not_refundable"},
	{ledger.ErrHoldNotPending, KindConflict, "hold_not_pending"},
	{ErrDebtSettled, KindConflict, "debt_already_collected"},
	{ErrCollectionInProgress, KindConflict, "collection_in_progress"},
	{ErrNotOverdue, KindConflict, "payment_not_overdue"},
	{ErrIdempotencyKeyInUse, KindConflict, "idempotency_key_in_use"},
	{apikey.ErrRevoked, KindConflict, "api_key_revoked"},
	{ErrUnitConflict, KindConflict, "unit_conflict"},
	// 422, the specific ones first
	{customer.ErrInvalidEmail, KindInvalid, "invalid_email"},
	{customer.ErrInvalidCountry, KindInvalid, "invalid_country"},
	{customer.ErrInvalidMeta, KindInvalid, "invalid_metadata"},
	{customer.ErrTooLong, KindInvalid, "value_too_long"},
	{customer.ErrInvalidText, KindInvalid, "invalid_text"},
	{customer.ErrInvalidSearch, KindInvalid, "invalid_search"},
	{ledger.ErrInvalidAmount, KindInvalid, "invalid_amount"},
	{ledger.ErrInvalidType, KindInvalid, "invalid_entry_type"},
	{ledger.ErrInvalidReason, KindInvalid, "invalid_reason"},
	{ledger.ErrInvalidKey, KindInvalid, "invalid_idempotency_key"},
	{ErrInvalidIdempotencyKey, KindInvalid, "invalid_idempotency_key"},
	{ErrIdempotencyKeyReused, KindInvalid, "idempotency_key_reused"},
	{apikey.ErrInvalidName, KindInvalid, "invalid_api_key_name"},
	{apikey.ErrMalformedSecret, KindInvalid, "malformed_api_key"},
	{subscription.ErrMissingMandateOnly, KindInvalid, "missing_mandate_only"},
	{subscription.ErrMissingPrice, KindInvalid, "missing_product_price"},
	{subscription.ErrInvalidPrice, KindInvalid, "invalid_product_price"},
	{subscription.ErrInvalidQuantity, KindInvalid, "invalid_quantity"},
	{subscription.ErrUnknownProduct, KindInvalid, "unknown_product"},
	{subscription.ErrNotRecurring, KindInvalid, "product_not_recurring"},
	{subscription.ErrMissingCustomer, KindInvalid, "missing_customer"},
	{subscription.ErrMissingMethod, KindInvalid, "missing_payment_method"},
	{subscription.ErrInvalidRefund, KindInvalid, "invalid_refund_amount"},
	{ErrMandateNotAuthorized, KindInvalid, "payment_method_not_authorized"},
	{money.ErrUnknownUnit, KindInvalid, "unknown_unit"},
	{money.ErrInvalidUnit, KindInvalid, "invalid_unit"},
	{money.ErrUnknownCurrency, KindInvalid, "unknown_currency"},
	{money.ErrCurrencyDisabled, KindInvalid, "currency_not_enabled"},
	{money.ErrOverflow, KindInvalid, "amount_overflow"},
	{money.ErrPrecision, KindInvalid, "amount_precision"},
	{money.ErrSyntax, KindInvalid, "malformed_amount"},
	{money.ErrCurrencyMismatch, KindInvalid, "currency_mismatch"},
	{fx.ErrNoRate, KindInvalid, "fx_rate_unavailable"},
	{ErrInvalidLimit, KindInvalid, "invalid_limit"},
	{ErrInvalidCursor, KindInvalid, "invalid_cursor"},
	{ErrInvalidID, KindInvalid, "invalid_id"},
	{ErrEndpointDisabled, KindInvalid, "endpoint_disabled"},
	{ErrDeliveryActive, KindInvalid, "delivery_active"},
	{webhook.ErrInvalidEventType, KindInvalid, "invalid_event_type"},
	{ErrInvalidEndpoint, KindInvalid, "invalid_endpoint"},
	{retry.ErrInvalidPolicy, KindInvalid, "invalid_retry_policy"},
	{ErrInvalidTopUp, KindInvalid, "invalid_auto_top_up"},
	{customer.ErrInvalid, KindInvalid, "invalid_customer"},
	{ErrProcessorInHostTx, KindInvalid, "processor_in_host_tx"},
	{ledger.ErrInvalid, KindInvalid, "invalid_entry"},
	{subscription.ErrInvalid, KindInvalid, "invalid_request"},
	{ErrInvalid, KindInvalid, "invalid_request"},
	// not the caller's fault
	{ErrInvalidConfig, KindInternal, "invalid_configuration"},
	{fx.ErrInvalidRate, KindInternal, "invalid_fx_rate"},
	{ErrResponseTooLarge, KindInternal, "response_too_large"},
	{ErrNoProcessor, KindUnavailable, "no_processor"},
	{processor.ErrUnavailable, KindUnavailable, "processor_unavailable"},
	{fx.ErrUnavailable, KindUnavailable, "fx_source_unavailable"},
	{context.Canceled, KindCanceled, "canceled"},
	{context.DeadlineExceeded, KindTimeout, "deadline_exceeded"},
}

// maxMessageLen bounds an Error's message, whatever the cause echoed.
const maxMessageLen = 512

// AsError returns err as an *Error: err itself (or the *Error it wraps)
// when it is one, otherwise a new one classified by the sentinel it wraps.
// An error coffer does not know is KindInternal with code
// "internal_error" and a message that does not repeat the cause (store
// and driver text stays out of API answers; the cause is still reachable
// with errors.Unwrap, for logs). AsError(nil) is nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	out := &Error{Kind: KindInternal, Code: "internal_error", Message: "coffer: internal error", cause: err}
	for _, c := range errorCodes {
		if errors.Is(err, c.sentinel) {
			out.Kind, out.Code, out.Message = c.kind, c.code, boundMessage(err.Error())
			break
		}
	}
	var (
		fe *customer.FieldError
		pe *ParamError
	)
	switch {
	case errors.As(err, &pe):
		out.Param = pe.Param
	case errors.As(err, &fe):
		out.Param = fe.Field
	}
	return out
}

// boundMessage cuts a message to maxMessageLen bytes on a rune boundary.
func boundMessage(s string) string {
	if len(s) <= maxMessageLen {
		return s
	}
	cut := maxMessageLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ErrorCode is the stable code of err ("" for nil): the Code of
// AsError(err).
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	return AsError(err).Code
}
