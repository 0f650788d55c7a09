// Package coffer is an embeddable billing engine: customers, multi-currency
// money wallets with an auditable ledger, mandate-based on-demand
// subscription charges, a durable payment-retry scheduler and signed
// webhooks, behind a pluggable store.
//
// An Engine wires a store.Store (store/memory for tests, store/bolt — the
// embedded default that Open uses — or store/postgres for several
// application instances), a processor.Processor, a clock.Clock and options.
// Every use case runs as one store transaction: a ledger entry, the balance
// it moves, a payment record and the outbox event describing the change
// commit together or not at all. The payment processor is never called
// inside a transaction: a charge reserves the wallet part with a hold, calls
// the processor, then settles in a second transaction; Reconcile repairs a
// crash in between.
//
// Money is always int64 minor units plus an ISO-4217 code (package money).
//
//	eng, err := coffer.Open("billing.db", coffer.WithoutProcessor()) // or WithProcessor(p)
//	if err != nil { ... }
//	defer eng.Close()
//	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
//	res, err := eng.CreateEntry(ctx, c.ID, EntryParams{
//		Amount: 500, Currency: "USD", Type: ledger.Credit,
//		Reason: "Welcome bonus", IdempotencyKey: "welcome-" + c.ID,
//	})
//	// res.Balance.Amount == 500 (USD cents)
//
// Errors are sentinels tested with errors.Is (wallet.ErrInsufficientFunds,
// ledger.ErrIdempotencyConflict, customer.ErrNotFound, ...); HTTPStatus maps
// each to the HTTP class an API should answer.
package coffer
