package postgres_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/subscription"
)

// The round trips of the two hottest writes, pinned: a change that adds a
// statement waited on to either path fails here. (The hand-written pgx
// transactions cofferbench compares with take 11 for a charge and 6 for an
// entry: BEGIN, each statement and COMMIT on their own.)
const (
	// chargeRoundTrips: reserve (the subscription, the balance, the
	// payment insert whose answer folds the idempotency lookup, COMMIT)
	// and settle (the payment with its subscription prefetched, COMMIT
	// with the queued payment update, event and subscription update).
	chargeRoundTrips = 6
	// entryRoundTrips: the balance, the entry insert whose answer folds
	// the idempotency lookup, COMMIT with the queued balance and event.
	entryRoundTrips = 3
)

// TestRoundTripsPinned counts the round trips (Stats.RoundTrips) of one
// Engine.Charge on the processor path (empty wallet, fresh idempotency
// key) and of one Engine.CreateEntry (fresh key), after a first of each
// has prepared the statements on the pool's only connection.
func TestRoundTripsPinned(t *testing.T) {
	s := newStore(t, postgres.WithMaxConns(1))
	eng, err := coffer.New(s, coffer.WithProcessor(processor.NewTest(nil)))
	require.NoError(t, err)
	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "p", Price: 1_00, Currency: "USD"})
	require.NoError(t, err)
	c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	require.NoError(t, err)
	res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
		PaymentMethod: processor.CardOK, OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
	require.NoError(t, err)
	sub := res.Subscription.ID
	// Entries go to another wallet: the charged one stays empty.
	w, err := eng.CreateCustomer(ctx, customer.Params{Name: new("Bob")})
	require.NoError(t, err)

	charge := func(key string) int64 {
		before := s.Stats().RoundTrips
		p, err := eng.Charge(ctx, sub, coffer.ChargeParams{ProductPrice: new(int64(1_00)), IdempotencyKey: key})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, p.Status)
		require.Positive(t, p.ProcessorAmount, "the processor path")
		return s.Stats().RoundTrips - before
	}
	entry := func(key string) int64 {
		before := s.Stats().RoundTrips
		r, err := eng.CreateEntry(ctx, w.ID, coffer.EntryParams{Amount: 5, Currency: "USD", Type: ledger.Credit,
			IdempotencyKey: key})
		require.NoError(t, err)
		require.False(t, r.Replayed)
		return s.Stats().RoundTrips - before
	}
	charge("warm")
	entry("warm")
	for i := range 3 {
		require.Equal(t, int64(chargeRoundTrips), charge(fmt.Sprint("charge-", i)), "round trips of one charge")
		require.Equal(t, int64(entryRoundTrips), entry(fmt.Sprint("entry-", i)), "round trips of one entry")
	}

	// A replay costs more (the insert, then the lookup) but answers the
	// same: the original payment and entry, nothing written twice.
	p1, err := eng.Charge(ctx, sub, coffer.ChargeParams{ProductPrice: new(int64(1_00)), IdempotencyKey: "charge-0"})
	require.NoError(t, err)
	p2, err := eng.Charge(ctx, sub, coffer.ChargeParams{ProductPrice: new(int64(1_00)), IdempotencyKey: "charge-0"})
	require.NoError(t, err)
	require.Equal(t, p1, p2)
	r, err := eng.CreateEntry(ctx, w.ID, coffer.EntryParams{Amount: 5, Currency: "USD", Type: ledger.Credit,
		IdempotencyKey: "entry-0"})
	require.NoError(t, err)
	require.True(t, r.Replayed)
	b, err := eng.Balance(ctx, w.ID, "USD")
	require.NoError(t, err)
	require.Equal(t, int64(4*5), b.Amount)
}
