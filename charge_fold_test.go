package coffer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// TestChargeKeyFoldedIntoInsert: the charge no longer looks its
// idempotency key up before it reserves; the payment's insert finds a
// taken key. A replay must still answer as the lookup did: the original
// payment, whatever the charge would now do or refuse, with nothing the
// replaying attempt reserved left behind.
func TestChargeKeyFoldedIntoInsert(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("a replay reserves nothing", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardOK)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "k"})
			require.NoError(t, err)
			require.Zero(t, p.WalletAmount)
			// The wallet now covers the charge: the replaying attempt
			// places a hold before its insert finds the key, and must
			// roll it back.
			_, err = v.CreateEntry(v.ctx, c.ID, EntryParams{Amount: 9_00, Currency: "USD", Type: ledger.Credit})
			require.NoError(t, err)
			before := len(v.events())
			again, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "k"})
			require.NoError(t, err)
			require.Equal(t, p, again)
			b, err := v.Balance(v.ctx, c.ID, "USD")
			require.NoError(t, err)
			require.Equal(t, int64(9_00), b.Amount)
			require.Zero(t, b.Held, "the replay's hold was rolled back")
			require.Len(t, v.events(), before)
			require.Len(t, v.odPayments(c.ID), 1)
			require.Equal(t, 1, v.proc.ChargeCount())
		})
		t.Run("a replay after the subscription was cancelled", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardOK)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "k"})
			require.NoError(t, err)
			_, err = v.CancelSubscription(v.ctx, s.ID)
			require.NoError(t, err)
			again, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "k"})
			require.NoError(t, err, "the key answers before the refusal")
			require.Equal(t, p, again)
			_, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_01)), IdempotencyKey: "k"})
			require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
			_, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), IdempotencyKey: "fresh"})
			require.Error(t, err, "a fresh key is refused")
			require.NotErrorIs(t, err, subscription.ErrIdempotencyConflict)
		})
		t.Run("defaults come from the subscription read in the transaction", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardOK)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00))})
			require.NoError(t, err)
			require.Equal(t, s.Currency, p.Currency)
			require.Equal(t, s.Description, p.Description)
			require.Equal(t, s.FeesInclusive, p.FeesInclusive)
			p, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(5_00)), ProductDescription: "other",
				AdaptiveCurrencyFeesInclusive: new(!s.FeesInclusive), Metadata: map[string]string{"a": "b"}})
			require.NoError(t, err)
			require.Equal(t, "other", p.Description)
			require.Equal(t, !s.FeesInclusive, p.FeesInclusive)
			require.Equal(t, map[string]string{"a": "b"}, p.Metadata)
		})
	})
}
