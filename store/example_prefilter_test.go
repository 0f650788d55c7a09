package store_test

import (
	"fmt"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// A Prefilter rejects, without tokenizing, a customer that cannot match;
// a customer it lets through is then tested with Matches.
func ExamplePrefilter() {
	sq, _ := customer.ParseSearch("grace hopper")
	p := store.NewPrefilter(sq)
	ada := customer.Customer{ID: "cus_1", Name: "Ada Lovelace", Email: "ada@example.com"}
	grace := customer.Customer{ID: "cus_2", Name: "Grace Hopper", Email: "grace@example.com"}
	fmt.Println(p.SkipCustomer(ada), p.SkipCustomer(grace), sq.Matches(grace))
	// Output: true false true
}
