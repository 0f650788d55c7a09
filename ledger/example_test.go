package ledger_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
)

func ExamplePost() {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := wallet.Balance{CustomerID: "cus_1", Currency: "USD"}

	e, b, _ := ledger.Post(b, ledger.Request{Amount: 5000, Currency: "USD", Type: ledger.Credit, Reason: "deposit"}, "ent_1", now)
	fmt.Println(e.Type, e.BalanceBefore, e.BalanceAfter)

	_, b, err := ledger.Post(b, ledger.Request{Amount: 7000, Currency: "USD", Type: ledger.Debit, Reason: "purchase"}, "ent_2", now)
	fmt.Println(errors.Is(err, wallet.ErrInsufficientFunds), b.Amount)
	// Output:
	// credit 0 5000
	// true 5000
}

func ExampleCaptureHold() {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := wallet.Balance{CustomerID: "cus_1", Currency: "USD", Amount: 1000}

	// Reserve 300 while the processor is called...
	h, b, _ := ledger.PlaceHold(b, "hold_1", 300, ledger.Reference{Type: ledger.RefPayment, ID: "pay_1"}, now)
	fmt.Println(b.Amount, b.Held, b.Available())

	// ...then post it once the charge succeeded.
	_, e, b, _ := ledger.CaptureHold(b, h, "ent_1", "Payment pay_1", now)
	fmt.Println(e.Type, e.BalanceBefore, e.BalanceAfter, b.Held)
	// Output:
	// 1000 300 700
	// debit 1000 700 0
}
