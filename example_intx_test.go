package coffer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store/postgres"
)

// Record a wallet-paid purchase in the application's own transaction: the
// order row, the payment, its ledger debit and their outbox events commit
// together. A purchase the wallet cannot cover needs the processor, which
// never runs inside a transaction: ErrProcessorInHostTx, nothing written,
// and the application charges it with Engine.ChargeOneTime after its
// commit instead.
func ExampleEngine_InTx() {
	dsn := os.Getenv("COFFER_POSTGRES_DSN")
	if dsn == "" {
		return // needs a PostgreSQL
	}
	ctx := context.Background()
	pg, err := postgres.Open(ctx, dsn, postgres.WithSchema("coffer_example_intx"))
	if err != nil {
		log.Fatal(err)
	}
	defer pg.Close()
	eng, err := coffer.New(pg, coffer.WithoutProcessor())
	if err != nil {
		log.Fatal(err)
	}
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	_, _ = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 10_00, Currency: "USD", Type: "credit"})

	tx, err := pg.Pool().Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback(ctx)
	billing := eng.InTx(pg.HostTx(tx))
	pay, err := billing.ChargeOneTime(ctx, c.ID, coffer.OneTimeParams{Amount: 4_00, Currency: "USD",
		PaymentMethod: "wallet", Description: "Sticker pack", IdempotencyKey: "order-42"})
	switch {
	case errors.Is(err, coffer.ErrProcessorInHostTx):
		// Not enough in the wallet: commit the order as unpaid and charge
		// it with eng.ChargeOneTime afterwards.
	case errors.Is(err, postgres.ErrHostTxRetry):
		// A deadlock or serialization failure: run the whole transaction again.
	case err != nil:
		log.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(pay.Status, pay.WalletAmount)
}
