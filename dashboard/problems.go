package dashboard

import (
	"github.com/cofferhq/coffer"
)

// problem is a refused form's message, shown next to the form: the stable
// code (coffer.ErrorCode for an Engine refusal, or one of the dashboard's
// own form codes below), what happened, and what to do about it.
type problem struct {
	Code    string
	Message string
	Hint    string
}

// The dashboard's own codes, for input it refuses before calling the
// Engine (the Engine's codes are in the README's error table).
const (
	codeConfirm   = "confirmation_required" // a required "I confirm" tick is missing
	codeNoKey     = "missing_idempotency_key"
	codeRefundBad = "refund_failed"          // the processor refused the refund; it is recorded as failed
	codeBadTerms  = "malformed_credit_terms" // a priority or an expiry the form cannot read
)

// hints say what to do about a code.
var hints = map[string]string{
	codeConfirm:                     "Tick the confirmation box, then submit again.",
	codeNoKey:                       "Reload the page to get a fresh form, then submit again.",
	codeRefundBad:                   "Nothing was returned to the card. Check the payment at the processor, or refund to the wallet instead.",
	"invalid_refund_amount":         "Enter at most the refundable amount shown in the dialog, or leave the amount empty to refund all of it.",
	"payment_not_refundable":        "Only a succeeded payment with money left to refund can be refunded. Reload the page to see its status.",
	"malformed_amount":              "Type the amount as digits with an optional decimal point, such as 12.50.",
	"amount_precision":              "Use no more decimals than the currency has (two for USD and EUR).",
	"amount_overflow":               "Enter a smaller amount.",
	"invalid_amount":                "Enter an amount greater than zero, such as 12.50.",
	"invalid_product_price":         "Enter an amount greater than zero, such as 12.50.",
	"unknown_currency":              "Use a three-letter ISO 4217 code the server accepts, such as USD.",
	"currency_not_enabled":          "Use one of the currencies this server is configured with (coffer serve -currencies).",
	"currency_mismatch":             "Use the currency of the subscription or of the wallet.",
	"insufficient_funds":            "Debit at most the available balance (the balance minus what is held), or credit the wallet first.",
	"invalid_reason":                "Give a short reason: it is kept in the ledger.",
	"invalid_entry_type":            "Choose credit (add money) or debit (take money).",
	"invalid_entry":                 "Credit terms go on credits only: kind paid or granted, a priority from -1000 to 1000, an expiry in the future (UTC); leave them empty for a debit.",
	codeBadTerms:                    "Type the priority as a whole number and the expiry as a UTC date and time (YYYY-MM-DDTHH:MM), or leave them empty.",
	"idempotency_conflict":          "This form was already used for another operation. Reload the page to get a fresh form.",
	"idempotency_key_in_use":        "The same form is still being processed. Wait a moment and reload the page.",
	"subscription_not_active":       "The subscription is no longer active. Reload the page.",
	"payment_method_not_authorized": "The customer has not authorised the payment method yet; send them the mandate link first.",
	"payment_not_overdue":           "The charge is not overdue (it was collected, or a retry is scheduled). Reload the page.",
	"debt_already_collected":        "The charge was already collected. Reload the page.",
	"collection_in_progress":        "Another collection of this charge is running. Wait a moment and reload the page.",
	"no_processor":                  "This server has no payment processor configured (coffer serve -processor).",
	"processor_unavailable":         "The payment processor did not answer. Try again in a moment: the same form is safe to resubmit.",
	"invalid_endpoint":              "Enter an absolute https URL (http only for local testing) and event types from the list.",
	"invalid_event_type":            "Choose event types from the list, or none for every event.",
	"endpoint_disabled":             "Enable the endpoint first, then redeliver.",
	"delivery_active":               "The delivery is still queued or being attempted; wait for its outcome.",
	"invalid_api_key_name":          "Give the key a short name.",
	"customer_not_found":            "Check the customer id, or leave the field empty for an operator key.",
}

// explain turns an Engine error into a problem: its stable code, its
// message and the hint of the code (or of its kind).
func explain(err error) problem {
	ae := coffer.AsError(err)
	p := problem{Code: ae.Code, Message: ae.Message, Hint: hints[ae.Code]}
	if p.Hint == "" {
		switch ae.Kind {
		case coffer.KindInvalid:
			p.Hint = "Correct the field the message names, then submit again."
		case coffer.KindConflict:
			p.Hint = "The record changed meanwhile. Reload the page and try again."
		case coffer.KindNotFound:
			p.Hint = "The record is gone. Reload the page."
		case coffer.KindUnavailable, coffer.KindTimeout:
			p.Hint = "Try again in a moment: the same form is safe to resubmit."
		default:
			p.Hint = "Try again; if it keeps failing, check the server log."
		}
	}
	return p
}

// local is a problem the dashboard finds itself, before calling the Engine.
func local(code, msg string) problem { return problem{Code: code, Message: msg, Hint: hints[code]} }

// internal reports whether err is a server fault (a bug or a store
// failure: logged, answered with the generic error page) rather than a
// refusal to show next to the form.
func internal(err error) bool { return coffer.AsError(err).Kind == coffer.KindInternal }
