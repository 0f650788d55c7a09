package coffer

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

func TestCustomers(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("create gets a zero wallet per enabled currency", func(t *testing.T) {
			v := newEnv(t, newStore)
			c, err := v.CreateCustomer(v.ctx, customer.Params{
				Name: new("Ada Lovelace"), Email: new("ada@example.com"),
				Address: &customer.Address{City: "London", Country: "gb"}, Metadata: map[string]string{"plan": "pro"},
			})
			require.NoError(t, err)
			require.Regexp(t, `^cus_[0-9a-f]{32}$`, c.ID)
			require.Equal(t, "GB", c.Address.Country)
			require.Equal(t, t0, c.CreatedAt)
			bs, err := v.Balances(v.ctx, c.ID)
			require.NoError(t, err)
			require.Len(t, bs, 2)
			require.Equal(t, "INR", bs[0].Currency)
			require.Equal(t, "USD", bs[1].Currency)
			for _, b := range bs {
				require.Zero(t, b.Amount)
				require.Zero(t, b.Held)
			}
			require.Equal(t, 1, v.eventTypes()[EventCustomerCreated])
		})

		t.Run("retrieve by id and did; unknown is 404", func(t *testing.T) {
			v := newEnv(t, newStore)
			c, err := v.CreateCustomer(v.ctx, customer.Params{Name: new("Bo"), DID: new("did:web:bo.example")})
			require.NoError(t, err)
			got, err := v.Customer(v.ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, c, got)
			got, err = v.CustomerByDID(v.ctx, "did:web:bo.example")
			require.NoError(t, err)
			require.Equal(t, c.ID, got.ID)
			_, err = v.Customer(v.ctx, "cus_missing")
			require.ErrorIs(t, err, customer.ErrNotFound)
			require.Equal(t, http.StatusNotFound, HTTPStatus(err))
			_, err = v.CustomerByDID(v.ctx, "did:web:nobody")
			require.ErrorIs(t, err, customer.ErrNotFound)
		})

		t.Run("duplicate did on create and update is 409 and changes nothing", func(t *testing.T) {
			v := newEnv(t, newStore)
			a, err := v.CreateCustomer(v.ctx, customer.Params{DID: new("did:x:1")})
			require.NoError(t, err)
			b, err := v.CreateCustomer(v.ctx, customer.Params{DID: new("did:x:2")})
			require.NoError(t, err)
			before := len(v.events())
			_, err = v.CreateCustomer(v.ctx, customer.Params{DID: new("did:x:1")})
			require.ErrorIs(t, err, customer.ErrDuplicateDID)
			require.Equal(t, http.StatusConflict, HTTPStatus(err))
			_, err = v.UpdateCustomer(v.ctx, b.ID, customer.Params{DID: new("did:x:1")})
			require.ErrorIs(t, err, customer.ErrDuplicateDID)
			got, err := v.Customer(v.ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, "did:x:2", got.DID)
			list, err := v.ListCustomers(v.ctx, CustomerListParams{})
			require.NoError(t, err)
			require.Len(t, list.Data, 2)
			require.Len(t, v.events(), before, "a rejected change writes no event")
			// Updating a customer with its own DID is fine.
			_, err = v.UpdateCustomer(v.ctx, a.ID, customer.Params{DID: new("did:x:1"), Name: new("A")})
			require.NoError(t, err)
		})

		t.Run("partial update keeps omitted fields and moves updated_at", func(t *testing.T) {
			v := newEnv(t, newStore)
			c, err := v.CreateCustomer(v.ctx, customer.Params{
				Name: new("Cy"), Email: new("cy@example.com"), Phone: new("+44 20 7946 0000"),
				Metadata: map[string]string{"a": "1", "b": "2"},
			})
			require.NoError(t, err)
			v.clock.Advance(90 * 1e9)
			u, err := v.UpdateCustomer(v.ctx, c.ID, customer.Params{Description: new("VIP"), Metadata: map[string]string{"a": "", "c": "3"}})
			require.NoError(t, err)
			require.Equal(t, "Cy", u.Name)
			require.Equal(t, "cy@example.com", u.Email)
			require.Equal(t, "+44 20 7946 0000", u.Phone)
			require.Equal(t, "VIP", u.Description)
			require.Equal(t, map[string]string{"b": "2", "c": "3"}, u.Metadata)
			require.Equal(t, c.CreatedAt, u.CreatedAt)
			require.True(t, u.UpdatedAt.After(c.UpdatedAt))
			got, err := v.Customer(v.ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, u, got)
			_, err = v.UpdateCustomer(v.ctx, "cus_nope", customer.Params{})
			require.ErrorIs(t, err, customer.ErrNotFound)
		})

		t.Run("invalid input is 422 and changes nothing", func(t *testing.T) {
			v := newEnv(t, newStore)
			c, err := v.CreateCustomer(v.ctx, customer.Params{Email: new("ok@example.com")})
			require.NoError(t, err)
			bigMeta := map[string]string{}
			for i := 0; i < 51; i++ {
				bigMeta[fmt.Sprint("k", i)] = "v"
			}
			cases := []struct {
				name string
				p    customer.Params
				want error
			}{
				{"email", customer.Params{Email: new("not-an-email")}, customer.ErrInvalidEmail},
				{"country", customer.Params{Address: &customer.Address{Country: "XX"}}, customer.ErrInvalidCountry},
				{"shipping country", customer.Params{Shipping: &customer.Shipping{Address: customer.Address{Country: "USA"}}}, customer.ErrInvalidCountry},
				{"metadata keys", customer.Params{Metadata: bigMeta}, customer.ErrInvalidMeta},
				{"metadata key length", customer.Params{Metadata: map[string]string{string(make([]byte, 41)): "v"}}, customer.ErrInvalidMeta},
			}
			for _, tc := range cases {
				_, err := v.CreateCustomer(v.ctx, tc.p)
				require.ErrorIs(t, err, tc.want, tc.name)
				require.ErrorIs(t, err, customer.ErrInvalid, tc.name)
				require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err), tc.name)
				var fe *customer.FieldError
				require.True(t, errors.As(err, &fe), tc.name)
				_, err = v.UpdateCustomer(v.ctx, c.ID, tc.p)
				require.ErrorIs(t, err, tc.want, tc.name)
			}
			got, err := v.Customer(v.ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, c, got)
			list, err := v.ListCustomers(v.ctx, CustomerListParams{})
			require.NoError(t, err)
			require.Len(t, list.Data, 1)
		})

		t.Run("list newest first with stable cursors, email filter and search", func(t *testing.T) {
			v := newEnv(t, newStore)
			var ids []string
			for i := 0; i < 45; i++ {
				email := fmt.Sprintf("user%d@example.com", i)
				if i%10 == 3 {
					email = "shared@example.com"
				}
				c, err := v.CreateCustomer(v.ctx, customer.Params{Name: new(fmt.Sprintf("Zed-%02d", i)), Email: new(email),
					Description: new(map[bool]string{true: "gold member", false: ""}[i%7 == 0])})
				require.NoError(t, err)
				ids = append(ids, c.ID) // same timestamp for all: order comes from insertion
			}
			def, err := v.ListCustomers(v.ctx, CustomerListParams{})
			require.NoError(t, err)
			require.Len(t, def.Data, 20, "default page size")
			require.True(t, def.HasMore)

			var walked []string
			p := CustomerListParams{ListParams: ListParams{Limit: 10}}
			for {
				page, err := v.ListCustomers(v.ctx, p)
				require.NoError(t, err)
				for _, c := range page.Data {
					walked = append(walked, c.ID)
				}
				if !page.HasMore {
					break
				}
				p.StartingAfter = page.Data[len(page.Data)-1].ID
			}
			require.Len(t, walked, 45)
			for i, id := range walked {
				require.Equal(t, ids[44-i], id, "newest first")
			}
			// Page back from the oldest record with ending_before.
			back, err := v.ListCustomers(v.ctx, CustomerListParams{ListParams: ListParams{Limit: 10, EndingBefore: ids[0]}})
			require.NoError(t, err)
			require.Len(t, back.Data, 10)
			require.Equal(t, ids[10], back.Data[0].ID)
			require.Equal(t, ids[1], back.Data[9].ID)
			require.True(t, back.HasMore)

			shared, err := v.ListCustomers(v.ctx, CustomerListParams{Email: "SHARED@example.com"})
			require.NoError(t, err)
			require.Len(t, shared.Data, 5)
			for _, c := range shared.Data {
				require.Equal(t, "shared@example.com", c.Email)
			}
			gold, err := v.SearchCustomers(v.ctx, CustomerSearchParams{Query: "GOLD", ListParams: ListParams{Limit: 100}})
			require.NoError(t, err)
			require.Len(t, gold.Data, 7)
			one, err := v.SearchCustomers(v.ctx, CustomerSearchParams{Query: ids[5]})
			require.NoError(t, err)
			require.Len(t, one.Data, 1)
			byName, err := v.SearchCustomers(v.ctx, CustomerSearchParams{Query: "zed-42"})
			require.NoError(t, err)
			require.Len(t, byName.Data, 1)
			require.Equal(t, ids[42], byName.Data[0].ID)
			multi, err := v.SearchCustomers(v.ctx, CustomerSearchParams{Query: "zed-4 gold"})
			require.NoError(t, err)
			require.Len(t, multi.Data, 1, "every term must match: only Zed-42 is zed-4x and gold")
			_, err = v.ListCustomers(v.ctx, CustomerListParams{ListParams: ListParams{Limit: 101}})
			require.ErrorIs(t, err, ErrInvalidLimit)
			_, err = v.ListCustomers(v.ctx, CustomerListParams{ListParams: ListParams{StartingAfter: "cus_unknown"}})
			require.ErrorIs(t, err, ErrInvalidCursor)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
			_, err = v.SearchCustomers(v.ctx, CustomerSearchParams{Query: "  "})
			require.ErrorIs(t, err, ErrInvalid)
		})
	})
}

func TestUpdateCustomerMergesAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c, err := v.CreateCustomer(v.ctx, customer.Params{Name: new("Ada"),
			Address: &customer.Address{Line1: "1 Main St", City: "London", Country: "GB"}})
		require.NoError(t, err)
		got, err := v.UpdateCustomer(v.ctx, c.ID, customer.Params{Address: &customer.Address{City: "Paris"}})
		require.NoError(t, err)
		require.Equal(t, customer.Address{Line1: "1 Main St", City: "Paris", Country: "GB"}, *got.Address)
		got, err = v.Customer(v.ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "1 Main St", got.Address.Line1, "stored merged")
		got, err = v.UpdateCustomer(v.ctx, c.ID, customer.Params{RemoveAddress: true})
		require.NoError(t, err)
		require.Nil(t, got.Address)
		got, err = v.Customer(v.ctx, c.ID)
		require.NoError(t, err)
		require.Nil(t, got.Address)
	})
}
