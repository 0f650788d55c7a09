package coffer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

func TestUpdateSubscriptionMetadata(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		e := newEnv(t, newStore)
		prod, err := e.CreateProduct(e.ctx, ProductParams{Name: "Plan", Price: 500, Currency: "USD"})
		require.NoError(t, err)
		c, err := e.CreateCustomer(e.ctx, customer.Params{Name: new("Ada"), Email: new("ada@example.com")})
		require.NoError(t, err)
		res, err := e.CreateSubscription(e.ctx, SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
			PaymentMethod: processor.CardOK, OnDemand: &OnDemand{MandateOnly: new(true)}, Metadata: map[string]string{"a": "1"}})
		require.NoError(t, err)
		id := res.Subscription.ID
		before, err := e.ListEvents(e.ctx, EventListParams{})
		require.NoError(t, err)
		up, err := e.UpdateSubscription(e.ctx, id, SubscriptionUpdateParams{Metadata: map[string]string{"a": "", "b": "2"}})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"b": "2"}, up.Metadata)
		got, err := e.Subscription(e.ctx, id)
		require.NoError(t, err)
		require.Equal(t, up, got)
		after, err := e.ListEvents(e.ctx, EventListParams{})
		require.NoError(t, err)
		require.Equal(t, EventSubscriptionUpdated, after.Data[0].Type)
		require.NotEqual(t, before.Data[0].ID, after.Data[0].ID)
		// A later charge takes it as its default metadata.
		pay, err := e.Charge(e.ctx, id, ChargeParams{ProductPrice: new(int64(100)), IdempotencyKey: "c1"})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"b": "2"}, pay.Metadata)

		_, err = e.UpdateSubscription(e.ctx, id, SubscriptionUpdateParams{Metadata: map[string]string{"": "x"}})
		require.Equal(t, 422, HTTPStatus(err))
		_, err = e.UpdateSubscription(e.ctx, "sub_missing", SubscriptionUpdateParams{Metadata: map[string]string{"k": "v"}})
		require.ErrorIs(t, err, subscription.ErrNotFound)
		got, err = e.Subscription(e.ctx, id)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"b": "2"}, got.Metadata)
	})
}
