package coffer

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
)

// A time an operation returns reads back identical on every store: the
// engine keeps microseconds, PostgreSQL's precision (before, a customer
// created on PostgreSQL answered nanoseconds and read back microseconds,
// and the HTTP API's created_at changed between POST and GET).
func TestTimesReadBackIdentical(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		ctx := context.Background()
		e, err := New(newStore(t), WithProcessor(processor.NewTest(nil))) // the system clock, with nanoseconds
		require.NoError(t, err)
		c, err := e.CreateCustomer(ctx, customer.Params{Name: new("Ada"), Email: new("ada@example.com")})
		require.NoError(t, err)
		got, err := e.Customer(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, c.CreatedAt.UnixNano(), got.CreatedAt.UnixNano())
		require.Zero(t, c.CreatedAt.Nanosecond()%1000)
		up, err := e.UpdateCustomer(ctx, c.ID, customer.Params{Name: new("Ada L.")})
		require.NoError(t, err)
		got, err = e.Customer(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, up.UpdatedAt.UnixNano(), got.UpdatedAt.UnixNano())
		res, err := e.CreateEntry(ctx, c.ID, EntryParams{Amount: 500, Currency: "USD", Type: "credit"})
		require.NoError(t, err)
		page, err := e.ListEntries(ctx, EntryListParams{CustomerID: c.ID})
		require.NoError(t, err)
		require.Equal(t, res.Entry.CreatedAt.UnixNano(), page.Data[0].CreatedAt.UnixNano())
	})
}
