package customer_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cofferhq/coffer/customer"
)

// FuzzCustomerParams feeds random strings into create and update params:
// New and Apply never panic, a failure returns the zero Customer and a
// validation error, and whatever they accept passes Validate.
func FuzzCustomerParams(f *testing.F) {
	f.Add("Ada", "ada@example.com", "+44 1", "vip", "did:x", "gb", "plan", "gold", "OLD")
	f.Add("", "", "", "", "", "", "", "", "")
	f.Add(" ", "a@b", "\xff", "\x00", " ", "UK", "", "v", "")
	f.Add("Ünal", "<a@b.co>", "1", "d", "d", "us ", "k", "", "X")
	f.Add("n", "a@b.co (c)", "p", "d", "", "ZZ", "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", "v", "")
	f.Fuzz(func(t *testing.T, name, email, phone, desc, did, country, mk, mv, prefix string) {
		p := customer.Params{
			Name: &name, Email: &email, Phone: &phone, Description: &desc, DID: &did, InvoicePrefix: &prefix,
			Address:  &customer.Address{Line1: name, Country: country},
			Shipping: &customer.Shipping{Name: name, Address: customer.Address{Country: country}},
			Metadata: map[string]string{mk: mv},
		}
		c, err := customer.New("cus_fuzz", p, t0)
		check(t, c, err)
		if err != nil {
			return
		}
		if !c.CreatedAt.Equal(t0) || !c.UpdatedAt.Equal(t0) {
			t.Fatalf("timestamps %v %v", c.CreatedAt, c.UpdatedAt)
		}

		// A partial update with the same strings in other fields.
		up, err := c.Apply(customer.Params{Description: &name, Metadata: map[string]string{mv: mk}}, t1)
		check(t, up, err)
		if err == nil {
			if up.Name != c.Name || up.Email != c.Email || !up.CreatedAt.Equal(t0) || !up.UpdatedAt.Equal(t1) {
				t.Fatalf("partial update changed omitted fields: %+v -> %+v", c, up)
			}
		}
		// Matches never panics on arbitrary queries.
		_ = customer.Matches(c, name+" "+email)
	})
}

func check(t *testing.T, c customer.Customer, err error) {
	t.Helper()
	if err != nil {
		if !reflect.DeepEqual(c, customer.Customer{}) {
			t.Fatalf("error %v with non-zero customer %+v", err, c)
		}
		if !errors.Is(err, customer.ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
		var fe *customer.FieldError
		if !errors.As(err, &fe) || fe.Field == "" {
			t.Fatalf("error %v does not name a field", err)
		}
		return
	}
	if verr := c.Validate(); verr != nil {
		t.Fatalf("accepted customer fails Validate: %v (%+v)", verr, c)
	}
}
