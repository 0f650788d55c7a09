package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/coffertest"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
)

// TestRun runs the example program, which checks its own story.
func TestRun(t *testing.T) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	stdout := os.Stdout
	os.Stdout = devnull
	defer func() { os.Stdout = stdout }()
	if err := run(); err != nil {
		t.Fatal(err)
	}
}

// TestWelcomeBonusExpires is the example's story asserted with
// coffertest: a paid top-up and a granted welcome bonus expiring in 30
// days; a debit takes the bonus first (earlier expiry); Advance past the
// expiry debits the bonus's remainder once, with its event delivered to a
// verifying receiver, and leaves the top-up alone.
func TestWelcomeBonusExpires(t *testing.T) {
	ctx := context.Background()
	env := coffertest.New(t)
	rc := env.NewReceiver(t, coffer.EventCreditExpired)
	c, err := env.Engine.CreateCustomer(ctx, customer.Params{Name: new("Ada Lovelace")})
	if err != nil {
		t.Fatal(err)
	}
	expires := env.Clock.Now().Add(30 * 24 * time.Hour)
	for _, p := range []coffer.EntryParams{
		{Amount: 20_00, Currency: "USD", Type: ledger.Credit, Reason: "top-up"},
		{Amount: 10_00, Currency: "USD", Type: ledger.Credit, Reason: "Welcome bonus", CreditKind: ledger.KindGranted, ExpiresAt: expires},
		{Amount: 4_00, Currency: "USD", Type: ledger.Debit, Reason: "usage"},
	} {
		if _, err := env.Engine.CreateEntry(ctx, c.ID, p); err != nil {
			t.Fatal(err)
		}
	}
	rep := env.Advance(t, 31*24*time.Hour)
	if rep.CreditsExpired != 1 {
		t.Fatalf("expired %d grants, want 1", rep.CreditsExpired)
	}
	d := rc.Require(t, coffer.EventCreditExpired, nil)
	if !d.Timestamp.Equal(expires) {
		t.Fatalf("credit_expired delivered with timestamp %v, want %v", d.Timestamp, expires)
	}
	b, err := env.Engine.Balance(ctx, c.ID, "USD")
	if err != nil {
		t.Fatal(err)
	}
	if b.Amount != 20_00 { // 20 + 10 - 4 (from the bonus) - 6 (its remainder, expired)
		t.Fatalf("balance %d, want 2000", b.Amount)
	}
}
