package coffer_test

import (
	"context"
	"fmt"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store/memory"
)

// Import customers with opening balances; running the same rows again
// imports nothing twice.
func ExampleEngine_ImportCustomers() {
	ctx := context.Background()
	eng, err := coffer.New(memory.New(), coffer.WithoutProcessor())
	if err != nil {
		panic(err)
	}
	rows := []coffer.ImportRow{
		{Customer: customer.Params{DID: new("ext-1"), Name: new("Ada"), Email: new("ada@example.com")},
			Balances: []coffer.OpeningBalance{{Currency: "USD", Amount: 1000}}},
		{Customer: customer.Params{DID: new("ext-2"), Name: new("Grace")}},
	}
	seq := func(yield func(coffer.ImportRow, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
	rep, err := eng.ImportCustomers(ctx, coffer.ImportParams{}, seq)
	if err != nil {
		panic(err)
	}
	fmt.Printf("imported %d, entries %d\n", rep.Imported, rep.Entries)
	again, err := eng.ImportCustomers(ctx, coffer.ImportParams{}, seq)
	if err != nil {
		panic(err)
	}
	fmt.Printf("again: imported %d, existing %d\n", again.Imported, again.Existing)
	// Output:
	// imported 2, entries 1
	// again: imported 0, existing 2
}
