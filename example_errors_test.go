package coffer_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/wallet"
)

// Every failure has a kind, a stable code, the parameter at fault and a
// message; the package sentinels still match with errors.Is.
func ExampleAsError() {
	ctx := context.Background()
	eng, _ := coffer.New(memory.New(), coffer.WithoutProcessor())
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})

	_, err := eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 900, Currency: "USD", Type: ledger.Debit, Reason: "Purchase"})
	e := coffer.AsError(err)
	fmt.Println(e.Code, e.HTTPStatus(), errors.Is(err, wallet.ErrInsufficientFunds))

	_, err = eng.CreateCustomer(ctx, customer.Params{Email: new("not an address")})
	e = coffer.AsError(err)
	fmt.Println(e.Code, e.Param, e.HTTPStatus())

	_, err = eng.Customer(ctx, "cus_missing")
	fmt.Println(coffer.ErrorCode(err), coffer.HTTPStatus(err))
	// Output:
	// insufficient_funds 400 true
	// invalid_email email 422
	// customer_not_found 404
}
