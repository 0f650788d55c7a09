package postgres_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store/postgres"
)

// Bill inside the application's own transaction: the order row and
// coffer's ledger entry (with its balance and outbox event) commit
// together, or, when anything fails, not at all.
func ExampleStore_HostTx() {
	dsn := os.Getenv("COFFER_POSTGRES_DSN")
	if dsn == "" {
		return // needs a PostgreSQL
	}
	ctx := context.Background()
	pg, err := postgres.Open(ctx, dsn, postgres.WithSchema("coffer_example_hosttx"))
	if err != nil {
		log.Fatal(err)
	}
	defer pg.Close()
	eng, err := coffer.New(pg, coffer.WithoutProcessor())
	if err != nil {
		log.Fatal(err)
	}
	if _, err := pg.Pool().Exec(ctx, "create table if not exists orders (id text primary key, customer_id text, amount bigint)"); err != nil {
		log.Fatal(err)
	}
	c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	if err != nil {
		log.Fatal(err)
	}

	// The application's transaction, on the store's pool (its search_path
	// reaches coffer's schema).
	tx, err := pg.Pool().Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	orderID := "ord_" + c.ID
	if _, err := tx.Exec(ctx, "insert into orders values ($1, $2, $3)", orderID, c.ID, 25_00); err != nil {
		log.Fatal(err)
	}
	res, err := eng.InTx(pg.HostTx(tx)).CreateEntry(ctx, c.ID, coffer.EntryParams{
		Amount: 25_00, Currency: "USD", Type: ledger.Credit, Reason: "Gift card", ReferenceID: orderID,
		IdempotencyKey: "order-" + orderID,
	})
	if err != nil {
		// Typed as outside a transaction (coffer.ErrorCode(err)); the host
		// transaction is still usable. postgres.ErrHostTxRetry: run the
		// whole transaction again.
		log.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err) // nothing of the order nor of coffer was kept
	}
	// wallet.balance_changed is in the outbox; a running dispatcher
	// (eng.Run, RunDispatcher) delivers it now that it is committed.
	fmt.Println(res.Balance.Amount)
}
