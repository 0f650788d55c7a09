package customer_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
)

func TestApplyMergesAddressFieldByField(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c, err := customer.New("cus_1", customer.Params{
		Address:  &customer.Address{Line1: "1 Main St", City: "London", PostalCode: "N1", Country: "gb"},
		Shipping: &customer.Shipping{Name: "Ada", Address: customer.Address{Line1: "2 Dock Rd", Country: "gb"}},
	}, now)
	require.NoError(t, err)

	moved, err := c.Apply(customer.Params{Address: &customer.Address{City: " Paris ", Country: "fr", PostalCode: "75001"}}, now)
	require.NoError(t, err)
	require.Equal(t, customer.Address{Line1: "1 Main St", City: "Paris", PostalCode: "75001", Country: "FR"}, *moved.Address)
	require.Equal(t, "London", c.Address.City, "the original is not modified")

	shipped, err := moved.Apply(customer.Params{Shipping: &customer.Shipping{Phone: "+33 1"}}, now)
	require.NoError(t, err)
	require.Equal(t, customer.Shipping{Name: "Ada", Phone: "+33 1", Address: customer.Address{Line1: "2 Dock Rd", Country: "GB"}}, *shipped.Shipping)

	gone, err := shipped.Apply(customer.Params{RemoveAddress: true, RemoveShipping: true}, now)
	require.NoError(t, err)
	require.Nil(t, gone.Address)
	require.Nil(t, gone.Shipping)

	_, err = c.Apply(customer.Params{RemoveAddress: true, Address: &customer.Address{City: "x"}}, now)
	require.ErrorIs(t, err, customer.ErrInvalid)
	_, err = c.Apply(customer.Params{RemoveShipping: true, Shipping: &customer.Shipping{Name: "x"}}, now)
	require.ErrorIs(t, err, customer.ErrInvalid)

	// A merge is validated as a whole: a bad country is still refused.
	_, err = c.Apply(customer.Params{Address: &customer.Address{Country: "XX"}}, now)
	require.ErrorIs(t, err, customer.ErrInvalidCountry)
}
