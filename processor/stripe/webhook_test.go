package stripe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v84/webhook"

	"github.com/cofferhq/coffer/processor"
)

func signed(t *testing.T, secret, typ, object string) ([]byte, string) {
	t.Helper()
	payload := []byte(fmt.Sprintf(`{"id":"evt_1","object":"event","api_version":"2020-08-27","type":%q,"data":{"object":%s}}`, typ, object))
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now()})
	return payload, sp.Header
}

func TestParseEvent(t *testing.T) {
	_, p := newFake(t)
	cases := []struct {
		typ, object string
		want        Outcome
	}{
		{"payment_intent.succeeded",
			`{"id":"pi_1","object":"payment_intent","status":"succeeded","amount":4250,"currency":"usd","metadata":{"coffer_payment_id":"pay_1"}}`,
			Outcome{Kind: OutcomeCharge, PaymentID: "pay_1", Charge: processor.Charge{ID: "pi_1", IdempotencyKey: "pay_1",
				Status: processor.ChargeSucceeded, Amount: 4250, Currency: "USD"}}},
		{"payment_intent.payment_failed",
			`{"id":"pi_1","object":"payment_intent","status":"requires_payment_method","amount":4250,"currency":"usd","metadata":{"coffer_payment_id":"pay_1"},
			"last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"stolen_card"}}`,
			Outcome{Kind: OutcomeCharge, PaymentID: "pay_1", Charge: processor.Charge{ID: "pi_1", IdempotencyKey: "pay_1",
				Status: processor.ChargeFailed, DeclineCode: processor.StolenCard, Amount: 4250, Currency: "USD"}}},
		{"payment_intent.succeeded", `{"id":"pi_x","object":"payment_intent","status":"succeeded","metadata":{}}`,
			Outcome{Kind: OutcomeIgnored}},
		{"setup_intent.succeeded",
			`{"id":"seti_1","object":"setup_intent","status":"succeeded","metadata":{"coffer_subscription_id":"sub_1"}}`,
			Outcome{Kind: OutcomeMandate, SubscriptionID: "sub_1", Mandate: processor.Mandate{ID: "seti_1",
				Status: processor.MandateAuthorized, AuthorizedAt: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}}},
		{"setup_intent.setup_failed",
			`{"id":"seti_1","object":"setup_intent","status":"requires_payment_method","metadata":{"coffer_subscription_id":"sub_1"},
			"last_setup_error":{"type":"card_error","code":"setup_intent_authentication_failure"}}`,
			Outcome{Kind: OutcomeMandate, SubscriptionID: "sub_1", Mandate: processor.Mandate{ID: "seti_1",
				Status: processor.MandateFailed, DeclineCode: processor.AuthenticationFailure}}},
		{"checkout.session.completed",
			`{"id":"cs_1","object":"checkout.session","mode":"setup","status":"complete","setup_intent":"seti_1","metadata":{"coffer_subscription_id":"sub_2"}}`,
			Outcome{Kind: OutcomeMandate, SubscriptionID: "sub_2", Mandate: processor.Mandate{ID: "cs_1", Status: processor.MandateRequiresAction}}},
		{"charge.refunded",
			`{"id":"ch_1","object":"charge","payment_intent":"pi_1","amount":4250,"amount_refunded":1000,"currency":"usd","refunded":false,"metadata":{"coffer_payment_id":"pay_1"}}`,
			Outcome{Kind: OutcomeRefund, PaymentID: "pay_1", Refund: RefundOutcome{ChargeID: "pi_1", AmountRefunded: 1000, Currency: "USD"}}},
		{"customer.created", `{"id":"cus_1","object":"customer"}`, Outcome{Kind: OutcomeIgnored}},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			body, sig := signed(t, "whsec_fixture", tc.typ, tc.object)
			got, err := p.ParseEvent(body, sig)
			require.NoError(t, err)
			tc.want.EventID, tc.want.EventType = "evt_1", tc.typ
			require.Equal(t, tc.want, got)
		})
	}

	body, sig := signed(t, "whsec_other", "payment_intent.succeeded", `{"id":"pi_1"}`)
	_, err := p.ParseEvent(body, sig)
	require.ErrorIs(t, err, ErrBadSignature)
	require.NotContains(t, err.Error(), "whsec_fixture")
	_, err = p.ParseEvent(body, "")
	require.ErrorIs(t, err, ErrBadSignature)

	old := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_fixture", Timestamp: time.Now().Add(-time.Hour)})
	_, err = p.ParseEvent(body, old.Header)
	require.ErrorIs(t, err, ErrBadSignature, "a replayed old event is refused")
}

func TestHandler(t *testing.T) {
	_, p := newFake(t)
	var charges []string
	var mandates []string
	fail := false
	sink := SinkFuncs{
		Charge: func(_ context.Context, id string, ch processor.Charge) error {
			if fail {
				return errors.New("store down")
			}
			charges = append(charges, id+":"+string(ch.Status))
			return nil
		},
		Mandate: func(_ context.Context, sub string, m processor.Mandate) error {
			mandates = append(mandates, sub+":"+m.ID)
			return nil
		},
	}
	h := p.Handler(sink, nil)
	post := func(body []byte, sig string) int {
		r := httptest.NewRequest(http.MethodPost, "/stripe/webhook", bytes.NewReader(body))
		r.Header.Set("Stripe-Signature", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	body, sig := signed(t, "whsec_fixture", "payment_intent.succeeded",
		`{"id":"pi_1","object":"payment_intent","status":"succeeded","amount":5,"currency":"usd","metadata":{"coffer_payment_id":"pay_1"}}`)
	require.Equal(t, 200, post(body, sig))
	require.Equal(t, []string{"pay_1:succeeded"}, charges)

	fail = true
	require.Equal(t, 500, post(body, sig), "Stripe redelivers what the sink could not apply")
	fail = false

	body2, sig2 := signed(t, "whsec_fixture", "setup_intent.succeeded",
		`{"id":"seti_1","object":"setup_intent","status":"succeeded","metadata":{"coffer_subscription_id":"sub_1"}}`)
	require.Equal(t, 200, post(body2, sig2))
	require.Equal(t, []string{"sub_1:seti_1"}, mandates)

	body3, sig3 := signed(t, "whsec_fixture", "charge.refunded", `{"id":"ch_1","object":"charge","amount_refunded":5}`)
	require.Equal(t, 200, post(body3, sig3))

	require.Equal(t, 400, post(body, "t=1,v1=deadbeef"))
	r := httptest.NewRequest(http.MethodGet, "/stripe/webhook", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, 405, w.Code)

	noSecret, err := New(Config{SecretKey: testKey})
	require.NoError(t, err)
	_, err = noSecret.ParseEvent(body, sig)
	require.ErrorIs(t, err, ErrNoWebhookSecret)
}
