package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
)

const testKey = "sk_test_fixtureSECRET0123456789"

// fake is a Stripe API stand-in answering fixed bodies per "METHOD /path",
// for the answers stripe-mock cannot give (declines, errors, statuses).
type fake struct {
	mu     sync.Mutex
	routes map[string]func(r *http.Request) (int, string)
	reqs   []*http.Request
	forms  []map[string][]string
}

func newFake(t *testing.T) (*fake, *Processor) {
	t.Helper()
	f := &fake{routes: map[string]func(*http.Request) (int, string){}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.reqs = append(f.reqs, r)
		f.forms = append(f.forms, r.Form)
		h := f.routes[r.Method+" "+r.URL.Path]
		f.mu.Unlock()
		if h == nil {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such route %s"}}`, r.URL.Path)
			return
		}
		status, body := h(r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_fixture")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	p, err := New(Config{SecretKey: testKey, APIBase: srv.URL, NetworkRetries: new(int64(0)),
		ReturnURL: "https://shop.test/return", WebhookSecret: "whsec_fixture",
		Now: func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	return f, p
}

func (f *fake) on(route string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = func(*http.Request) (int, string) { return status, body }
}

func (f *fake) last(path string) (*http.Request, map[string][]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.reqs) - 1; i >= 0; i-- {
		if f.reqs[i].URL.Path == path {
			return f.reqs[i], f.forms[i]
		}
	}
	return nil, nil
}

func cardError(code, decline string) string {
	return fmt.Sprintf(`{"error":{"type":"card_error","code":%q,"decline_code":%q,"message":"Your card was declined.",
		"payment_intent":{"id":"pi_declined","object":"payment_intent","status":"requires_payment_method",
		"client_secret":"pi_declined_secret_SHOULDNOTLEAK","amount":4250,"currency":"usd"},
		"setup_intent":{"id":"seti_declined","object":"setup_intent","status":"requires_payment_method",
		"client_secret":"seti_declined_secret_SHOULDNOTLEAK"}}}`, code, decline)
}

const authorisedSeti = `{"id":"seti_ok","object":"setup_intent","status":"succeeded","customer":"cus_s1","payment_method":"pm_s1"}`

func authorised(t *testing.T, f *fake, p *Processor) {
	t.Helper()
	f.on("GET /v1/setup_intents/seti_ok", 200, authorisedSeti)
}

// TestDeclineTable: every Stripe code the issue names, and more, maps to
// coffer's decline code, on the charge path and on the mandate path.
func TestDeclineTable(t *testing.T) {
	cases := []struct{ code, decline, want string }{
		{"card_declined", "do_not_honor", processor.DoNotHonor},
		{"card_declined", "generic_decline", processor.DoNotHonor},
		{"card_declined", "", processor.DoNotHonor},
		{"expired_card", "", processor.DoNotHonor},
		{"incorrect_cvc", "", processor.DoNotHonor},
		{"card_declined", "stolen_card", processor.StolenCard},
		{"card_declined", "lost_card", processor.LostCard},
		{"card_declined", "pickup_card", processor.PickupCard},
		{"card_declined", "fraudulent", processor.Fraudulent},
		{"card_declined", "merchant_blacklist", processor.Fraudulent},
		{"authentication_required", "authentication_required", processor.AuthenticationFailure},
		{"authentication_required", "", processor.AuthenticationFailure},
		{"card_declined", "insufficient_funds", processor.InsufficientFunds},
		{"card_declined", "card_velocity_exceeded", processor.InsufficientFunds},
		{"processing_error", "", processor.IssuerUnavailable},
		{"card_declined", "issuer_not_available", processor.IssuerUnavailable},
		{"card_declined", "try_again_later", processor.IssuerUnavailable},
		{"card_decline_rate_limit_exceeded", "", processor.IssuerUnavailable},
		{"card_declined", "some_new_code_stripe_adds", processor.DoNotHonor},
	}
	for _, tc := range cases {
		t.Run(tc.code+"/"+tc.decline, func(t *testing.T) {
			f, p := newFake(t)
			authorised(t, f, p)
			f.on("POST /v1/payment_intents", 402, cardError(tc.code, tc.decline))
			ch, err := p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: "seti_ok",
				Amount: 42_50, Currency: "USD"})
			require.NoError(t, err, "a decline is an outcome, not an error")
			require.Equal(t, processor.Charge{ID: "pi_declined", IdempotencyKey: "pay_1", Status: processor.ChargeFailed,
				DeclineCode: tc.want, Amount: 42_50, Currency: "USD"}, ch)

			f.on("POST /v1/customers", 200, `{"id":"cus_s1","object":"customer"}`)
			f.on("POST /v1/setup_intents", 402, cardError(tc.code, tc.decline))
			m, err := p.AuthorizeMandate(context.Background(), processor.MandateRequest{IdempotencyKey: "sub_1",
				CustomerID: "cus_c1", PaymentMethod: "pm_card_x"})
			require.NoError(t, err)
			require.Equal(t, processor.Mandate{ID: "seti_declined", Status: processor.MandateFailed, DeclineCode: tc.want}, m)
		})
	}
}

// TestErrorsAreUnavailable: answers that leave the outcome unknown, or say
// nothing was done for a transient reason, wrap processor.ErrUnavailable;
// malformed requests and reused keys do not.
func TestErrorsAreUnavailable(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		unavailable bool
		is          error
	}{
		{"rate limit", 429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`, true, nil},
		{"lock timeout", 429, `{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"locked"}}`, true, nil},
		{"api error", 500, `{"error":{"type":"api_error","message":"Something went wrong"}}`, true, nil},
		{"bad gateway", 502, `<html>bad gateway</html>`, true, nil},
		{"key in use", 409, `{"error":{"type":"invalid_request_error","code":"idempotency_key_in_use","message":"in use"}}`, true, nil},
		{"bad key", 401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****6789"}}`, true, nil},
		{"idempotency mismatch", 400, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}`, false, processor.ErrIdempotencyMismatch},
		{"invalid request", 400, `{"error":{"type":"invalid_request_error","code":"parameter_invalid_integer","message":"Invalid integer"}}`, false, processor.ErrInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, p := newFake(t)
			authorised(t, f, p)
			f.on("POST /v1/payment_intents", tc.status, tc.body)
			_, err := p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: "seti_ok",
				Amount: 100, Currency: "EUR"})
			require.Error(t, err)
			require.Equal(t, tc.unavailable, errors.Is(err, processor.ErrUnavailable), err.Error())
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			require.NotContains(t, err.Error(), testKey)
			require.NotContains(t, err.Error(), "6789")
		})
	}
}

func TestNetworkErrorIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there now
	p, err := New(Config{SecretKey: testKey, APIBase: base, NetworkRetries: new(int64(0))})
	require.NoError(t, err)
	p.mandates.Store("seti_ok", mandateRef{customer: "cus_1", paymentMethod: "pm_1"})
	_, err = p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: "seti_ok", Amount: 1, Currency: "USD"})
	require.ErrorIs(t, err, processor.ErrUnavailable)
	_, err = p.LookupCharge(context.Background(), "pay_1")
	require.ErrorIs(t, err, processor.ErrUnavailable)
	require.NotErrorIs(t, err, processor.ErrNotFound)
}

func TestCanceledContextIsUnknown(t *testing.T) {
	f, p := newFake(t)
	authorised(t, f, p)
	ctx, cancel := context.WithCancel(context.Background())
	f.mu.Lock()
	f.routes["POST /v1/payment_intents"] = func(*http.Request) (int, string) { cancel(); time.Sleep(50 * time.Millisecond); return 200, `{}` }
	f.mu.Unlock()
	_, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: "seti_ok", Amount: 1, Currency: "USD"})
	require.ErrorIs(t, err, context.Canceled)
}

func TestChargeRequestAndOutcomes(t *testing.T) {
	f, p := newFake(t)
	authorised(t, f, p)
	f.on("POST /v1/payment_intents", 200, `{"id":"pi_1","object":"payment_intent","status":"succeeded","amount":4250,"currency":"usd",
		"client_secret":"pi_1_secret_x","metadata":{"coffer_payment_id":"pay_1"}}`)
	ch, err := p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: "seti_ok",
		Amount: 42_50, Currency: "USD", Description: "usage", Metadata: map[string]string{"order": "1001"}})
	require.NoError(t, err)
	require.Equal(t, processor.Charge{ID: "pi_1", IdempotencyKey: "pay_1", Status: processor.ChargeSucceeded, Amount: 42_50, Currency: "USD"}, ch)

	r, form := f.last("/v1/payment_intents")
	require.Equal(t, "pay_1", r.Header.Get("Idempotency-Key"), "coffer's payment id is Stripe's idempotency key")
	require.Equal(t, "Bearer "+testKey, r.Header.Get("Authorization"))
	for k, v := range map[string]string{"amount": "4250", "currency": "usd", "customer": "cus_s1", "payment_method": "pm_s1",
		"off_session": "true", "confirm": "true", "description": "usage", "metadata[coffer_payment_id]": "pay_1",
		"metadata[order]": "1001"} {
		require.Equal(t, []string{v}, form[k], k)
	}

	// The mandate was read once and is cached.
	_, err = p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_2", MandateID: "seti_ok", Amount: 1, Currency: "USD"})
	require.NoError(t, err)
	n := 0
	for _, r := range f.reqs {
		if r.URL.Path == "/v1/setup_intents/seti_ok" {
			n++
		}
	}
	require.Equal(t, 1, n)

	for status, want := range map[string]error{"processing": ErrChargePending, "requires_capture": ErrChargePending} {
		f.on("POST /v1/payment_intents", 200, `{"id":"pi_2","object":"payment_intent","status":"`+status+`","amount":1,"currency":"usd"}`)
		_, err = p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_3", MandateID: "seti_ok", Amount: 1, Currency: "USD"})
		require.ErrorIs(t, err, want)
		require.ErrorIs(t, err, processor.ErrUnavailable)
	}
	f.on("POST /v1/payment_intents", 200, `{"id":"pi_3","object":"payment_intent","status":"requires_action","amount":1,"currency":"usd"}`)
	ch, err = p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_4", MandateID: "seti_ok", Amount: 1, Currency: "USD"})
	require.NoError(t, err)
	require.Equal(t, processor.AuthenticationFailure, ch.DeclineCode)
}

func TestChargeNeedsAuthorisedMandate(t *testing.T) {
	f, p := newFake(t)
	f.on("GET /v1/setup_intents/seti_pending", 200, `{"id":"seti_pending","object":"setup_intent","status":"requires_action"}`)
	_, err := p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: "seti_pending", Amount: 1, Currency: "USD"})
	require.ErrorIs(t, err, processor.ErrMandateNotAuthorized)
	_, err = p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: "seti_gone", Amount: 1, Currency: "USD"})
	require.ErrorIs(t, err, processor.ErrMandateNotFound)
	_, err = p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_1", Amount: 1, Currency: "USD"})
	require.ErrorIs(t, err, processor.ErrInvalidRequest)
}

func TestMandateRequiresActionAndCheckout(t *testing.T) {
	f, p := newFake(t)
	f.on("POST /v1/customers", 200, `{"id":"cus_s1","object":"customer"}`)
	f.on("POST /v1/setup_intents", 200, `{"id":"seti_3ds","object":"setup_intent","status":"requires_action",
		"next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/3d_secure/x","return_url":"https://shop.test/r"}}}`)
	m, err := p.AuthorizeMandate(context.Background(), processor.MandateRequest{IdempotencyKey: "sub_1", CustomerID: "cus_c1",
		PaymentMethod: "pm_card_threeDSecure2Required", ReturnURL: "https://shop.test/r"})
	require.NoError(t, err)
	require.Equal(t, processor.Mandate{ID: "seti_3ds", Status: processor.MandateRequiresAction,
		PaymentLink: "https://hooks.stripe.com/3d_secure/x"}, m)
	r, form := f.last("/v1/setup_intents")
	require.Equal(t, "coffer-mandate-sub_1", r.Header.Get("Idempotency-Key"))
	require.Equal(t, []string{"off_session"}, form["usage"])
	require.Equal(t, []string{"cus_s1"}, form["customer"])
	require.Equal(t, []string{"https://shop.test/r"}, form["return_url"])
	require.Equal(t, []string{"sub_1"}, form["metadata[coffer_subscription_id]"])
	cr, cform := f.last("/v1/customers")
	require.Equal(t, "coffer-customer-cus_c1", cr.Header.Get("Idempotency-Key"))
	require.Equal(t, []string{"cus_c1"}, cform["metadata[coffer_customer_id]"])

	// The customer completes the challenge: MandateStatus reads it back.
	f.on("GET /v1/setup_intents/seti_3ds", 200, `{"id":"seti_3ds","object":"setup_intent","status":"succeeded","customer":"cus_s1","payment_method":"pm_s9"}`)
	m, err = p.MandateStatus(context.Background(), "seti_3ds")
	require.NoError(t, err)
	require.Equal(t, processor.MandateAuthorized, m.Status)
	require.Equal(t, time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), m.AuthorizedAt)

	// Hosted: Checkout in setup mode.
	f.on("POST /v1/checkout/sessions", 200, `{"id":"cs_1","object":"checkout.session","status":"open","mode":"setup","url":"https://checkout.stripe.com/c/cs_1"}`)
	m, err = p.AuthorizeMandate(context.Background(), processor.MandateRequest{IdempotencyKey: "sub_2", CustomerID: "cus_c1",
		PaymentMethod: HostedPaymentMethod, PaymentLink: true})
	require.NoError(t, err)
	require.Equal(t, processor.Mandate{ID: "cs_1", Status: processor.MandateRequiresAction, PaymentLink: "https://checkout.stripe.com/c/cs_1"}, m)
	_, sform := f.last("/v1/checkout/sessions")
	require.Equal(t, []string{"setup"}, sform["mode"])
	require.Equal(t, []string{"https://shop.test/return"}, sform["success_url"], "Config.ReturnURL is the default")
	require.Equal(t, []string{"sub_2"}, sform["setup_intent_data[metadata][coffer_subscription_id]"])

	for _, tc := range []struct {
		body string
		want processor.Mandate
	}{
		{`{"id":"cs_1","object":"checkout.session","status":"open","url":"https://checkout.stripe.com/c/cs_1"}`,
			processor.Mandate{ID: "cs_1", Status: processor.MandateRequiresAction, PaymentLink: "https://checkout.stripe.com/c/cs_1"}},
		{`{"id":"cs_1","object":"checkout.session","status":"expired"}`,
			processor.Mandate{ID: "cs_1", Status: processor.MandateFailed, DeclineCode: processor.AuthenticationFailure}},
		{`{"id":"cs_1","object":"checkout.session","status":"complete","setup_intent":{"id":"seti_cs","object":"setup_intent","status":"succeeded","customer":"cus_s1","payment_method":"pm_cs"}}`,
			processor.Mandate{ID: "cs_1", Status: processor.MandateAuthorized, AuthorizedAt: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}},
	} {
		f.on("GET /v1/checkout/sessions/cs_1", 200, tc.body)
		m, err := p.MandateStatus(context.Background(), "cs_1")
		require.NoError(t, err)
		require.Equal(t, tc.want, m)
	}
	r, _ = f.last("/v1/checkout/sessions/cs_1")
	require.Equal(t, "setup_intent", r.URL.Query().Get("expand[0]"))

	// A completed Checkout mandate charges with its SetupIntent's payment method.
	f.on("POST /v1/payment_intents", 200, `{"id":"pi_cs","object":"payment_intent","status":"succeeded","amount":5,"currency":"usd"}`)
	_, err = p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_cs", MandateID: "cs_1", Amount: 5, Currency: "USD"})
	require.NoError(t, err)
	_, pform := f.last("/v1/payment_intents")
	require.Equal(t, []string{"pm_cs"}, pform["payment_method"])

	_, err = p.AuthorizeMandate(context.Background(), processor.MandateRequest{IdempotencyKey: "sub_3", CustomerID: "cus_c1"})
	require.ErrorIs(t, err, processor.ErrInvalidRequest)
}

func TestLookupCharge(t *testing.T) {
	succeeded := `{"id":"pi_found","object":"payment_intent","status":"succeeded","amount":700,"currency":"eur","metadata":{"coffer_payment_id":"pay_1"}}`
	declined := `{"id":"pi_found","object":"payment_intent","status":"requires_payment_method","amount":700,"currency":"eur",
		"metadata":{"coffer_payment_id":"pay_1"},"last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds"}}`
	other := `{"id":"pi_other","object":"payment_intent","status":"succeeded","amount":1,"currency":"eur","metadata":{"coffer_payment_id":"pay_9"}}`
	list := func(items ...string) string {
		return `{"object":"list","url":"/v1/payment_intents","has_more":false,"data":[` + strings.Join(items, ",") + `]}`
	}
	search := func(items ...string) string {
		return `{"object":"search_result","url":"/v1/payment_intents/search","has_more":false,"data":[` + strings.Join(items, ",") + `]}`
	}

	t.Run("by search", func(t *testing.T) {
		f, p := newFake(t)
		f.on("GET /v1/payment_intents/search", 200, search(succeeded))
		ch, err := p.LookupCharge(context.Background(), "pay_1")
		require.NoError(t, err)
		require.Equal(t, processor.Charge{ID: "pi_found", IdempotencyKey: "pay_1", Status: processor.ChargeSucceeded, Amount: 700, Currency: "EUR"}, ch)
		r, _ := f.last("/v1/payment_intents/search")
		require.Equal(t, "metadata['coffer_payment_id']:'pay_1'", r.URL.Query().Get("query"))
	})
	t.Run("search lags, list finds a decline", func(t *testing.T) {
		f, p := newFake(t)
		f.on("GET /v1/payment_intents/search", 200, search())
		f.on("GET /v1/payment_intents", 200, list(other, declined))
		ch, err := p.LookupCharge(context.Background(), "pay_1")
		require.NoError(t, err)
		require.Equal(t, processor.ChargeFailed, ch.Status)
		require.Equal(t, processor.InsufficientFunds, ch.DeclineCode)
		r, _ := f.last("/v1/payment_intents")
		require.Equal(t, fmt.Sprint(time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC).Unix()), r.URL.Query().Get("created[gte]"))
	})
	t.Run("not found", func(t *testing.T) {
		f, p := newFake(t)
		f.on("GET /v1/payment_intents/search", 200, search(other)) // a match of the query is still checked
		f.on("GET /v1/payment_intents", 200, list(other))
		_, err := p.LookupCharge(context.Background(), "pay_1")
		require.ErrorIs(t, err, processor.ErrNotFound)
	})
	t.Run("scan cut short is unknown, never not found", func(t *testing.T) {
		f, p := newFake(t)
		p.cfg.LookupMaxPages = 1
		items := make([]string, 100)
		for i := range items {
			items[i] = strings.Replace(other, "pi_other", fmt.Sprintf("pi_o%d", i), 1)
		}
		f.on("GET /v1/payment_intents/search", 200, search())
		f.on("GET /v1/payment_intents", 200, strings.Replace(list(items...), `"has_more":false`, `"has_more":true`, 1))
		_, err := p.LookupCharge(context.Background(), "pay_1")
		require.ErrorIs(t, err, processor.ErrUnavailable)
		require.NotErrorIs(t, err, processor.ErrNotFound)
	})
	t.Run("still processing", func(t *testing.T) {
		f, p := newFake(t)
		f.on("GET /v1/payment_intents/search", 200, search(strings.Replace(succeeded, `"succeeded"`, `"processing"`, 1)))
		_, err := p.LookupCharge(context.Background(), "pay_1")
		require.ErrorIs(t, err, ErrChargePending)
	})
	t.Run("search down", func(t *testing.T) {
		f, p := newFake(t)
		f.on("GET /v1/payment_intents/search", 503, `{"error":{"type":"api_error","message":"unavailable"}}`)
		_, err := p.LookupCharge(context.Background(), "pay_1")
		require.ErrorIs(t, err, processor.ErrUnavailable)
	})
	t.Run("quotes escaped", func(t *testing.T) {
		f, p := newFake(t)
		f.on("GET /v1/payment_intents/search", 200, search())
		f.on("GET /v1/payment_intents", 200, list())
		_, err := p.LookupCharge(context.Background(), `pay_'x\`)
		require.ErrorIs(t, err, processor.ErrNotFound)
		r, _ := f.last("/v1/payment_intents/search")
		require.Equal(t, `metadata['coffer_payment_id']:'pay_\'x\\'`, r.URL.Query().Get("query"))
	})
}

func TestRefund(t *testing.T) {
	f, p := newFake(t)
	f.on("POST /v1/refunds", 200, `{"id":"re_1","object":"refund","status":"succeeded","amount":300,"currency":"usd"}`)
	r, err := p.Refund(context.Background(), processor.RefundRequest{IdempotencyKey: "ref_1", ChargeID: "pi_1", Amount: 300, Currency: "USD"})
	require.NoError(t, err)
	require.Equal(t, processor.Refund{ID: "re_1", Amount: 300}, r)
	req, form := f.last("/v1/refunds")
	require.Equal(t, "ref_1", req.Header.Get("Idempotency-Key"))
	require.Equal(t, []string{"pi_1"}, form["payment_intent"])
	require.Equal(t, []string{"300"}, form["amount"])

	for _, tc := range []struct {
		status int
		body   string
		want   error
	}{
		{404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent"}}`, processor.ErrUnknownCharge},
		{400, `{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"already refunded"}}`, processor.ErrRefundExceedsCharge},
		{400, `{"error":{"type":"invalid_request_error","code":"amount_too_large","message":"Refund amount is greater than unrefunded amount"}}`, processor.ErrRefundExceedsCharge},
		{400, `{"error":{"type":"invalid_request_error","code":"charge_not_refundable","message":"not refundable"}}`, processor.ErrNotRefundable},
		{200, `{"id":"re_2","object":"refund","status":"failed","amount":300}`, ErrRefundFailed},
		{500, `{"error":{"type":"api_error","message":"oops"}}`, processor.ErrUnavailable},
		{400, `{"error":{"type":"idempotency_error","message":"reused"}}`, processor.ErrIdempotencyMismatch},
	} {
		f.on("POST /v1/refunds", tc.status, tc.body)
		_, err := p.Refund(context.Background(), processor.RefundRequest{IdempotencyKey: "ref_2", ChargeID: "pi_1", Amount: 300})
		require.ErrorIs(t, err, tc.want, tc.body)
	}
}

// TestSecretsNeverInErrors: the key, and the client secrets Stripe puts in
// error objects, stay out of every error and of Config's printed forms.
func TestSecretsNeverInErrors(t *testing.T) {
	f, p := newFake(t)
	authorised(t, f, p)
	f.on("POST /v1/payment_intents", 400, `{"error":{"type":"invalid_request_error","message":"bad `+testKey+` and pi_1_secret_abc",
		"payment_intent":{"id":"pi_1","client_secret":"pi_1_secret_abc"}}}`)
	_, err := p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "pay_1", MandateID: "seti_ok", Amount: 1, Currency: "USD"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), testKey)
	require.NotContains(t, err.Error(), "secret_abc")

	cfg := Config{SecretKey: testKey, WebhookSecret: "whsec_topsecret"}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), cfg.LogValue().String()} {
		require.NotContains(t, s, testKey)
		require.NotContains(t, s, "topsecret")
	}
	_, err = New(Config{})
	require.ErrorIs(t, err, ErrNoSecretKey)
}
