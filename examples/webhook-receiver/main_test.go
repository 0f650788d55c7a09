package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cofferhq/coffer/webhook"
)

// TestDemo runs the self-demo: the receiver verifies and decodes every
// real event the engine delivers, refuses the tampered and forged ones and
// acknowledges the redelivery as a duplicate.
func TestDemo(t *testing.T) {
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rc, err := newReceiver(secret, &out)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := demo(rc, secret)
	if err != nil || !ok {
		t.Fatalf("demo: ok=%v err=%v\n%s", ok, err, out.String())
	}
	for _, want := range []string{"verified customer.created", "verified wallet.balance_changed", "verified wallet.balance_low", "verified payment.succeeded", "duplicate"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "data {") {
		t.Errorf("an event type the receiver does not decode:\n%s", out.String())
	}
}
