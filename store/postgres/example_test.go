package postgres_test

import (
	"context"
	"log"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
)

// Open the store in its own schema and post a credit in one transaction.
// Several processes may run this against one database at once.
func ExampleOpen() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, "postgres://app@127.0.0.1:5432/billing", postgres.WithSchema("coffer"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	err = s.Update(ctx, func(tx store.Tx) error {
		b, err := tx.Balance("cus_123", "USD") // locked until commit
		if err != nil {
			return err
		}
		e, after, err := ledger.Post(b, ledger.Request{Amount: 500, Currency: "USD", Type: ledger.Credit,
			IdempotencyKey: "welcome-cus_123"}, "le_1", b.UpdatedAt)
		if err != nil {
			return err
		}
		if err := tx.InsertEntry(e); err != nil {
			return err // store.ErrDuplicate: the key was used before
		}
		return tx.PutBalance(after)
	})
	if err != nil {
		log.Fatal(err)
	}
}
