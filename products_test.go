package coffer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

func TestProductDetailsAndUpdate(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		e := newEnv(t, newStore)
		p, err := e.CreateProduct(e.ctx, ProductParams{Name: "Plan", Price: 1000, Currency: "USD",
			TaxCategory: "saas", Metadata: map[string]string{"tier": "pro"}, IdempotencyKey: "plan"})
		require.NoError(t, err)
		require.Equal(t, "saas", p.TaxCategory)
		require.Equal(t, p.CreatedAt, p.UpdatedAt)
		// The same key with other details is a conflict, not a second product.
		_, err = e.CreateProduct(e.ctx, ProductParams{Name: "Plan", Price: 1000, Currency: "USD", TaxCategory: "e_book", IdempotencyKey: "plan"})
		require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)

		e.clock.Advance(time.Minute)
		up, err := e.UpdateProduct(e.ctx, p.ID, ProductUpdateParams{Name: new("Plan+"), Price: new(int64(1500)),
			Metadata: map[string]string{"tier": "", "sku": "P-1"}})
		require.NoError(t, err)
		require.Equal(t, "Plan+", up.Name)
		require.Equal(t, int64(1500), up.Price)
		require.Equal(t, map[string]string{"sku": "P-1"}, up.Metadata)
		require.Equal(t, e.clock.Now(), up.UpdatedAt)
		got, err := e.Product(e.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, up, got)

		// Refusals change nothing.
		for _, bad := range []ProductUpdateParams{{Name: new("  ")}, {Price: new(int64(-1))}, {Currency: new("XYZ")},
			{TaxCategory: new("Not Valid")}, {Metadata: map[string]string{"": "x"}}} {
			_, err := e.UpdateProduct(e.ctx, p.ID, bad)
			require.Error(t, err)
			require.Equal(t, 422, HTTPStatus(err), "%+v: %v", bad, err)
		}
		_, err = e.UpdateProduct(e.ctx, "prod_missing", ProductUpdateParams{Name: new("x")})
		require.ErrorIs(t, err, subscription.ErrProductNotFound)
		got, err = e.Product(e.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, up, got)

		// A one-time product cannot be subscribed to.
		once, err := e.CreateProduct(e.ctx, ProductParams{Name: "$10 pack", Price: 1000, Currency: "USD", OneTime: true})
		require.NoError(t, err)
		require.True(t, once.OneTime)
		c, err := e.CreateCustomer(e.ctx, customer.Params{Name: new("Ada"), Email: new("ada@example.com")})
		require.NoError(t, err)
		_, err = e.CreateSubscription(e.ctx, SubscriptionParams{ProductID: once.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}})
		require.ErrorIs(t, err, subscription.ErrNotRecurring)
		require.Equal(t, "product_not_recurring", ErrorCode(err))
		require.Zero(t, e.proc.ChargeCount())
	})
}
