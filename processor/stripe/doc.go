// Package stripe is a coffer payment processor (processor.Processor) on
// Stripe, built on the official github.com/stripe/stripe-go/v84.
//
// How coffer's processor calls map onto Stripe:
//
//   - AuthorizeMandate creates (idempotently, per coffer customer) a Stripe
//     Customer and a SetupIntent confirmed with the payment method for
//     off-session use (usage=off_session, cards). The mandate id is the
//     SetupIntent id (seti_...). A SetupIntent that needs 3-D Secure is
//     processor.MandateRequiresAction, with Stripe's redirect URL as the
//     payment link. With MandateRequest.PaymentLink (or the payment method
//     HostedPaymentMethod) it creates a Checkout Session in setup mode
//     instead; the mandate id is then the session id (cs_...), the link the
//     session's URL, and MandateStatus reads the session back (complete and
//     its SetupIntent succeeded: authorised; expired: failed).
//   - Charge creates an off-session PaymentIntent confirmed at once with the
//     mandate's customer and payment method, with coffer's payment id as the
//     Idempotency-Key header and as metadata coffer_payment_id. The charge id
//     coffer stores is the PaymentIntent id (pi_...).
//   - LookupCharge finds that PaymentIntent after a lost answer: first by
//     the Search API (metadata['coffer_payment_id']), then, because search
//     is eventually consistent, by listing the PaymentIntents created in the
//     last Config.LookupWindow (strongly consistent). It answers
//     processor.ErrNotFound only when both came back complete and empty; if
//     the list scan hits Config.LookupMaxPages first, the outcome stays
//     unknown (processor.ErrUnavailable), never "not found".
//   - Refund creates a Refund of the PaymentIntent (partial amounts allowed)
//     with coffer's refund id as the Idempotency-Key.
//
// Declines are not errors: a card_error becomes a processor.Charge (or
// Mandate) with status failed and a coffer decline code (see DeclineCode
// and the table in its documentation). Rate limits, Stripe 5xx answers,
// rejected API keys and network failures wrap processor.ErrUnavailable, so
// coffer looks the charge up instead of failing it.
//
// Stripe's webhooks (payment_intent.succeeded, payment_intent.payment_failed,
// setup_intent.succeeded, setup_intent.setup_failed,
// checkout.session.completed, charge.refunded) are verified with stripe-go's
// webhook package and turned into typed outcomes by (*Processor).ParseEvent;
// (*Processor).Handler serves them and hands each outcome to an
// OutcomeSink.
//
// The secret key is never logged, put in an error or marshalled: Config's
// String, GoString and LogValue redact it, stripe-go's own logger is
// silenced, and the messages of Stripe errors are copied without the
// objects (and their client secrets) Stripe attaches to them.
package stripe
