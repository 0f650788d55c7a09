package stripe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor/stripe"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
)

// statefulStripe is a minimal Stripe that remembers what it made (which
// stripe-mock does not): enough for coffer's engine to authorise a mandate,
// charge, lose an answer, look the charge up and refund it.
type statefulStripe struct {
	mu      sync.Mutex
	intents map[string]map[string]any // by Idempotency-Key
	order   []string
	loseAll bool // answer 500 after acting
	n       int
}

func (s *statefulStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	key := r.Header.Get("Idempotency-Key")
	switch {
	case r.Method == "POST" && r.URL.Path == "/v1/customers":
		reply(200, map[string]any{"id": "cus_s_" + r.Form.Get("metadata[coffer_customer_id]"), "object": "customer"})
	case r.Method == "POST" && r.URL.Path == "/v1/setup_intents":
		reply(200, map[string]any{"id": "seti_" + r.Form.Get("metadata[coffer_subscription_id]"), "object": "setup_intent",
			"status": "succeeded", "customer": r.Form.Get("customer"), "payment_method": r.Form.Get("payment_method")})
	case r.Method == "POST" && r.URL.Path == "/v1/payment_intents":
		pi, ok := s.intents[key]
		if !ok {
			pi = map[string]any{"id": fmt.Sprintf("pi_%d", s.n), "object": "payment_intent", "status": "succeeded",
				"amount": json.Number(r.Form.Get("amount")), "currency": r.Form.Get("currency"),
				"metadata": map[string]string{"coffer_payment_id": r.Form.Get("metadata[coffer_payment_id]")}}
			s.intents[key] = pi
			s.order = append(s.order, key)
		}
		if s.loseAll {
			reply(500, map[string]any{"error": map[string]any{"type": "api_error", "message": "lost"}})
			return
		}
		reply(200, pi)
	case r.Method == "GET" && r.URL.Path == "/v1/payment_intents/search":
		data := []any{}
		for _, k := range s.order {
			if strings.Contains(r.URL.Query().Get("query"), "'"+k+"'") {
				data = append(data, s.intents[k])
			}
		}
		reply(200, map[string]any{"object": "search_result", "has_more": false, "data": data})
	case r.Method == "GET" && r.URL.Path == "/v1/payment_intents":
		reply(200, map[string]any{"object": "list", "has_more": false, "data": []any{}})
	case r.Method == "POST" && r.URL.Path == "/v1/refunds":
		reply(200, map[string]any{"id": "re_" + key, "object": "refund", "status": "succeeded", "amount": json.Number(r.Form.Get("amount"))})
	default:
		reply(404, map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "resource_missing", "message": "no route"}})
	}
}

// TestEngineOnStripe drives coffer's engine through the adapter: an
// on-demand subscription's mandate, a charge, a charge whose answer is lost
// (settled by LookupCharge at once, charged once), and a partial refund.
func TestEngineOnStripe(t *testing.T) {
	api := &statefulStripe{intents: map[string]map[string]any{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	proc, err := stripe.New(stripe.Config{SecretKey: "sk_test_engine", APIBase: srv.URL, NetworkRetries: new(int64(0))})
	require.NoError(t, err)
	eng, err := coffer.New(memory.New(), coffer.WithProcessor(proc))
	require.NoError(t, err)
	defer eng.Close()
	ctx := context.Background()

	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "API usage", Price: 10_00, Currency: "USD"})
	require.NoError(t, err)
	res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1,
		Customer:      &customer.Params{Name: new("Lin"), Email: new("lin@example.com")},
		PaymentMethod: "pm_card_visa", OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
	require.NoError(t, err)
	require.Equal(t, subscription.StatusActive, res.Subscription.Status)
	require.Equal(t, "seti_"+res.Subscription.ID, res.Subscription.MandateID)

	pay, err := eng.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(42_50))})
	require.NoError(t, err)
	require.Equal(t, subscription.PaymentSucceeded, pay.Status)

	api.mu.Lock()
	api.loseAll = true
	api.mu.Unlock()
	lost, err := eng.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(7_00))})
	require.NoError(t, err)
	require.Equal(t, subscription.PaymentSucceeded, lost.Status, "the lost answer is found by the payment id")
	api.mu.Lock()
	api.loseAll = false
	require.Len(t, api.intents, 2, "charged once per payment")
	_, ok := api.intents[lost.ID]
	api.mu.Unlock()
	require.True(t, ok, "the payment id is the Idempotency-Key")

	ref, err := eng.Refund(ctx, pay.ID, coffer.RefundParams{Amount: 2_50, IdempotencyKey: "r1"})
	require.NoError(t, err)
	require.Equal(t, int64(2_50), ref.Amount)
	got, err := eng.Payment(ctx, pay.ID)
	require.NoError(t, err)
	require.Equal(t, int64(2_50), got.ProcessorRefunded)
}
