package bolt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
)

// ExampleWithDBBatch opens a store whose concurrent Updates share commits
// through bbolt's DB.Batch instead of the committer goroutine (the
// default). Every Update is fsynced before it returns either way.
func ExampleWithDBBatch() {
	dir, err := os.MkdirTemp("", "coffer-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s, err := bolt.Open(filepath.Join(dir, "billing.db"), bolt.WithDBBatch())
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertCustomer(customer.Customer{ID: "cus_1", Name: "Ada", Email: "ada@example.com"})
	})
	if err != nil {
		panic(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		list, _, err := tx.ListCustomers(store.CustomerQuery{Email: "ADA@example.com"})
		fmt.Println(len(list), list[0].ID, err)
		return nil
	})
	// Output: 1 cus_1 <nil>
}
