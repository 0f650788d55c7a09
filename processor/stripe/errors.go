package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	stripego "github.com/stripe/stripe-go/v84"

	"github.com/cofferhq/coffer/processor"
)

// declines maps Stripe's decline_code (or, without one, its error code) to
// coffer's decline codes. The soft ones (INSUFFICIENT_FUNDS,
// ISSUER_UNAVAILABLE) are retried by coffer's retry policy; everything else
// is hard. A code not in the table is DO_NOT_HONOR (hard): an unknown
// refusal is never retried blindly.
var declines = map[string]string{
	// Hard: the issuer refuses this card for this merchant.
	"do_not_honor":                      processor.DoNotHonor,
	"generic_decline":                   processor.DoNotHonor,
	"card_declined":                     processor.DoNotHonor,
	"call_issuer":                       processor.DoNotHonor,
	"card_not_supported":                processor.DoNotHonor,
	"currency_not_supported":            processor.DoNotHonor,
	"expired_card":                      processor.DoNotHonor,
	"incorrect_cvc":                     processor.DoNotHonor,
	"invalid_cvc":                       processor.DoNotHonor,
	"incorrect_number":                  processor.DoNotHonor,
	"invalid_number":                    processor.DoNotHonor,
	"invalid_expiry_month":              processor.DoNotHonor,
	"invalid_expiry_year":               processor.DoNotHonor,
	"invalid_account":                   processor.DoNotHonor,
	"new_account_information_available": processor.DoNotHonor,
	"no_action_taken":                   processor.DoNotHonor,
	"not_permitted":                     processor.DoNotHonor,
	"restricted_card":                   processor.DoNotHonor,
	"revocation_of_all_authorizations":  processor.DoNotHonor,
	"revocation_of_authorization":       processor.DoNotHonor,
	"security_violation":                processor.DoNotHonor,
	"service_not_allowed":               processor.DoNotHonor,
	"stop_payment_order":                processor.DoNotHonor,
	"transaction_not_allowed":           processor.DoNotHonor,
	"testmode_decline":                  processor.DoNotHonor,
	"stolen_card":                       processor.StolenCard,
	"lost_card":                         processor.LostCard,
	"pickup_card":                       processor.PickupCard,
	"fraudulent":                        processor.Fraudulent,
	"merchant_blacklist":                processor.Fraudulent,
	// The bank wants the cardholder (3-D Secure): an off-session charge
	// cannot, the customer must authorise again.
	"authentication_required":               processor.AuthenticationFailure,
	"payment_intent_authentication_failure": processor.AuthenticationFailure,
	"setup_intent_authentication_failure":   processor.AuthenticationFailure,
	// Soft: may succeed later.
	"insufficient_funds":               processor.InsufficientFunds,
	"card_velocity_exceeded":           processor.InsufficientFunds,
	"withdrawal_count_limit_exceeded":  processor.InsufficientFunds,
	"processing_error":                 processor.IssuerUnavailable,
	"issuer_not_available":             processor.IssuerUnavailable,
	"try_again_later":                  processor.IssuerUnavailable,
	"reenter_transaction":              processor.IssuerUnavailable,
	"approve_with_id":                  processor.IssuerUnavailable,
	"card_decline_rate_limit_exceeded": processor.IssuerUnavailable,
}

// DeclineCode maps a Stripe card error to a coffer decline code: its
// decline_code if the table knows it, else its code, else DO_NOT_HONOR.
//
//	Stripe decline_code / code                        coffer
//	do_not_honor, generic_decline, card_declined,     DO_NOT_HONOR
//	  expired_card, incorrect_cvc, incorrect_number,
//	  restricted_card, ... (and any unknown code)
//	stolen_card                                       STOLEN_CARD
//	lost_card                                         LOST_CARD
//	pickup_card                                       PICKUP_CARD
//	fraudulent, merchant_blacklist                    FRAUDULENT
//	authentication_required,                          AUTHENTICATION_FAILURE
//	  payment_intent_authentication_failure,
//	  setup_intent_authentication_failure
//	insufficient_funds, card_velocity_exceeded,       INSUFFICIENT_FUNDS (retried)
//	  withdrawal_count_limit_exceeded
//	processing_error, issuer_not_available,           ISSUER_UNAVAILABLE (retried)
//	  try_again_later, reenter_transaction,
//	  approve_with_id, card_decline_rate_limit_exceeded
//
// Errors that are not declines (rate limits, 5xx, network) are not decline
// codes: see the Processor's methods, they wrap processor.ErrUnavailable.
func DeclineCode(e *stripego.Error) string {
	if e == nil {
		return processor.DoNotHonor
	}
	if c, ok := declines[string(e.DeclineCode)]; ok {
		return c
	}
	if c, ok := declines[string(e.Code)]; ok {
		return c
	}
	return processor.DoNotHonor
}

// asCardError reports whether err is Stripe refusing the card (a
// card_error, HTTP 402): an outcome, not a failure of the call.
func asCardError(err error) (*stripego.Error, bool) {
	var se *stripego.Error
	if errors.As(err, &se) && se.Type == stripego.ErrorTypeCard {
		return se, true
	}
	return nil, false
}

// convertErr turns a failed Stripe call into coffer's vocabulary:
//
//   - the caller's context ending: returned wrapped as is (coffer treats the
//     outcome as unknown and looks it up later);
//   - rate limits (429, rate_limit, lock_timeout), Stripe 5xx or api_error,
//     a concurrent request with the same key (409 idempotency_key_in_use),
//     a rejected API key (401/403: an operator fixes it, the payments must
//     not fail meanwhile), and network failures: processor.ErrUnavailable;
//   - idempotency_error (a key reused with other parameters):
//     processor.ErrIdempotencyMismatch;
//   - any other Stripe answer (invalid_request_error): processor.ErrInvalidRequest.
//
// The message is Stripe's, without the objects it attaches (they can carry
// client secrets) and with anything shaped like a key redacted.
func convertErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stripe: %s: %w", op, ctxErr(err))
	}
	var se *stripego.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("stripe: %s: %w: %s", op, processor.ErrUnavailable, redact(err.Error()))
	}
	msg := safeMessage(se)
	switch {
	case se.HTTPStatusCode == http.StatusTooManyRequests || se.Code == stripego.ErrorCodeRateLimit ||
		se.Code == stripego.ErrorCodeLockTimeout:
		return fmt.Errorf("stripe: %s: rate limited: %w: %s", op, processor.ErrUnavailable, msg)
	case se.HTTPStatusCode >= 500 || se.Type == stripego.ErrorTypeAPI:
		return fmt.Errorf("stripe: %s: %w: %s", op, processor.ErrUnavailable, msg)
	case se.HTTPStatusCode == http.StatusConflict || se.Code == stripego.ErrorCodeIdempotencyKeyInUse:
		return fmt.Errorf("stripe: %s: request with this key in progress: %w: %s", op, processor.ErrUnavailable, msg)
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		return fmt.Errorf("stripe: %s: API key rejected: %w: %s", op, processor.ErrUnavailable, msg)
	case se.Type == stripego.ErrorTypeIdempotency:
		return fmt.Errorf("stripe: %s: %w: %s", op, processor.ErrIdempotencyMismatch, msg)
	case se.Type == stripego.ErrorTypeCard:
		return fmt.Errorf("stripe: %s: card refused (%s): %s", op, DeclineCode(se), msg)
	}
	return fmt.Errorf("stripe: %s: %w: %s", op, processor.ErrInvalidRequest, msg)
}

func ctxErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// safeMessage describes a Stripe error by its status, type, codes, message
// and request id: never by Error(), which marshals the whole error with the
// PaymentIntent or SetupIntent (and its client secret) in it.
func safeMessage(se *stripego.Error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %d %s", se.HTTPStatusCode, se.Type)
	if se.Code != "" {
		fmt.Fprintf(&b, " code=%s", se.Code)
	}
	if se.DeclineCode != "" {
		fmt.Fprintf(&b, " decline_code=%s", se.DeclineCode)
	}
	if se.Msg != "" {
		fmt.Fprintf(&b, ": %s", redact(se.Msg))
	}
	if se.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", se.RequestID)
	}
	return b.String()
}

var secretShaped = regexp.MustCompile(`\b(sk|rk|whsec)_[A-Za-z0-9_*]+|\b[A-Za-z0-9]+_[A-Za-z0-9]+_secret_[A-Za-z0-9]+`)

// redact hides anything shaped like a Stripe key, webhook secret or client
// secret.
func redact(s string) string { return secretShaped.ReplaceAllString(s, "[redacted]") }
