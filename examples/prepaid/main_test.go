package main

import (
	"context"
	"errors"
	"testing"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/coffertest"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// TestPrepaidWallet is the example's story, asserted with coffertest:
// deposits in two currencies, purchases debited from the balance, a
// purchase beyond it refused without a change, and the wallet.balance_low
// event (threshold USD 10.00) reaching a verifying webhook receiver.
func TestPrepaidWallet(t *testing.T) {
	ctx := context.Background()
	env := coffertest.New(t, coffer.WithLowBalanceThreshold("USD", 10_00)) // the example runs WithoutProcessor; the test processor is never called here
	rc := env.NewReceiver(t, "wallet.*")
	c, err := env.Engine.CreateCustomer(ctx, customer.Params{Name: new("Priya Sharma")})
	if err != nil {
		t.Fatal(err)
	}
	post := func(amount int64, cur string, typ ledger.Type) (coffer.EntryResult, error) {
		return env.Engine.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: amount, Currency: cur, Type: typ, Reason: "test"})
	}
	for _, p := range []struct {
		amount int64
		cur    string
		typ    ledger.Type
	}{{50_00, "USD", ledger.Credit}, {2000_00, "INR", ledger.Credit}, {12_50, "USD", ledger.Debit}, {30_00, "USD", ledger.Debit}} {
		if _, err := post(p.amount, p.cur, p.typ); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := post(8_00, "USD", ledger.Debit); !errors.Is(err, wallet.ErrInsufficientFunds) {
		t.Fatalf("debit beyond the balance: %v", err)
	}
	b, err := env.Engine.Balance(ctx, c.ID, "USD")
	if err != nil || b.Amount != 7_50 {
		t.Fatalf("USD balance %+v %v", b, err)
	}
	low := coffertest.RequireEvent(t, env.Engine, coffer.EventBalanceLow, func(ev webhook.Event) bool { return ev.CustomerID == c.ID })
	if n := len(coffertest.Events(t, env.Engine, coffer.EventBalanceLow)); n != 1 {
		t.Fatalf("%d low-balance events, want one per crossing", n)
	}
	if n := len(coffertest.Events(t, env.Engine, coffer.EventBalanceChanged)); n != 4 {
		t.Fatalf("%d balance changes (the refused debit must not emit one)", n)
	}

	env.Advance(t, 0)
	d := rc.Require(t, coffer.EventBalanceLow, nil)
	if d.ID != low.ID {
		t.Fatalf("delivered %s, want %s", d.ID, low.ID)
	}
	if got := coffertest.Decode[coffer.BalanceLow](t, d.Data); got.Threshold != 10_00 || got.Balance.Amount != 7_50 {
		t.Fatalf("payload %+v", got)
	}
	if len(rc.Deliveries()) != 5 || len(rc.Rejected()) != 0 {
		t.Fatalf("%d delivered, %d rejected", len(rc.Deliveries()), len(rc.Rejected()))
	}
}
