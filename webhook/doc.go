// Package webhook holds coffer's outbox records (Event, Endpoint, Delivery)
// and the wire side of webhook delivery, following the Standard Webhooks
// specification (https://www.standardwebhooks.com/) so receivers can use any
// Standard Webhooks library, or Verify from this package.
//
// # Wire format
//
// Each delivery is an HTTP POST of the JSON envelope built by Payload:
//
//	{"type":"payment.succeeded","timestamp":"2026-01-02T15:04:05Z","data":{...}}
//
// with the headers
//
//	webhook-id:        the event ID, stable across retries (deduplicate on it)
//	webhook-timestamp: Unix seconds of this attempt
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//
// The key is the endpoint's secret, "whsec_" followed by base64 of 24 to 64
// random bytes (NewSecret makes 32). While a rotated-out secret is in its
// grace period the header carries one signature per secret, space-separated,
// so receivers holding either secret keep verifying.
//
// # Receiving
//
// Verify the raw body before decoding it:
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//		if err != nil {
//			http.Error(w, "bad body", http.StatusBadRequest)
//			return
//		}
//		if err := webhook.Verify(secret, r.Header, body); err != nil {
//			http.Error(w, "bad signature", http.StatusUnauthorized)
//			return
//		}
//		var env webhook.Envelope
//		_ = json.Unmarshal(body, &env)
//		// ... handle env.Type / env.Data, idempotently on r.Header.Get("webhook-id")
//		w.WriteHeader(http.StatusNoContent)
//	}
//
// Verify rejects timestamps more than DefaultTolerance from the receiver's
// clock; NewVerifier takes WithTolerance and WithClock. Errors wrap
// ErrMissingHeaders, ErrInvalidTimestamp, ErrTimestampTooOld,
// ErrTimestampTooNew (both also ErrTimestampOutOfTolerance),
// ErrInvalidSignature or ErrInvalidSecret; test them with errors.Is.
//
// # Sending
//
// Sender makes one signed attempt and reports a Result (success is any 2xx,
// redirects are not followed, even with a Client of the caller's); Backoff
// says when to try again; Matches applies an endpoint's event-type filter.
// A Sender refuses to connect to loopback, private, link-local (cloud
// metadata), carrier-grade NAT and other special-purpose addresses, checked
// on the resolved address at connect time, unless AllowPrivateNetworks is
// set (ErrDestinationNotAllowed). Result.Summary is the one-line outcome
// that is safe to store: a status line or a failure class, never the
// response body, the URL's query or credentials. The durable dispatch loop that
// claims deliveries from the store lives in the coffer package.
//
// See examples/webhook-receiver for a runnable receiver.
package webhook
