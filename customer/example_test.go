package customer_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/customer"
)

func ExampleNew() {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c, err := customer.New("cus_123", customer.Params{
		Name:    new("Ada Lovelace"),
		Email:   new("ada@example.com"),
		Address: &customer.Address{City: "London", Country: "gb"},
	}, now)
	fmt.Println(c.Name, c.Email, c.Address.Country, err)

	_, err = customer.New("cus_124", customer.Params{Email: new("not-an-email")}, now)
	var fe *customer.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field, errors.Is(err, customer.ErrInvalidEmail), errors.Is(err, customer.ErrInvalid))
	// Output:
	// Ada Lovelace ada@example.com GB <nil>
	// true email true true
}

func ExampleCustomer_Apply() {
	created := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	c, _ := customer.New("cus_123", customer.Params{
		Name:     new("Ada"),
		Metadata: map[string]string{"plan": "gold", "ref": "42"},
	}, created)

	// Omitted fields stay; metadata merges and an empty value deletes a key.
	c, _ = c.Apply(customer.Params{
		Email:    new("ada@example.com"),
		Metadata: map[string]string{"ref": "", "tier": "1"},
	}, created.Add(time.Hour))
	fmt.Println(c.Name, c.Email, c.Metadata, c.UpdatedAt.Sub(c.CreatedAt))
	// Output:
	// Ada ada@example.com map[plan:gold tier:1] 1h0m0s
}

func ExampleMatches() {
	c := customer.Customer{ID: "cus_9", Name: "Ada Lovelace", Email: "ada@example.com"}
	fmt.Println(customer.Matches(c, "LOVELACE example"))
	fmt.Println(customer.Matches(c, "ada babbage"))
	// Output:
	// true
	// false
}

func ExampleParseSearch() {
	s, err := customer.ParseSearch("  LOVELACE  ſ ")
	fmt.Println(s.Terms(), err)
	fmt.Println(s.Matches(customer.Customer{ID: "cus_9", Name: "Ada Lovelace", Email: "ada@science.example"}))
	_, err = customer.ParseSearch("ada\x01lovelace")
	fmt.Println(err)
	// Output:
	// [lovelace s] <nil>
	// true
	// search: customer: invalid: search query: term "ada\x01lovelace" contains a control character
}

func ExampleFold() {
	fmt.Println(customer.Fold("SAM@Example.COM") == customer.Fold("ſam@example.com"))
	// Output:
	// true
}
