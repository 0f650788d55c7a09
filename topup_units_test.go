package coffer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
)

// TestTopUpRefusesUnitWallet: auto top-up rules are for money wallets
// only (the documented limit): a rule on a unit wallet, even a priced
// unit's, is refused with a typed error and nothing is stored.
func TestTopUpRefusesUnitWallet(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		c := v.customer()
		for _, code := range []string{"credits", "api_calls"} {
			_, err := v.CreateTopUp(v.ctx, c.ID, code, thresholdParams("pm_card_visa"))
			require.ErrorIs(t, err, money.ErrUnknownCurrency, code)
			require.Equal(t, "unknown_currency", ErrorCode(err))
			rules, err := v.ListTopUps(v.ctx, c.ID, "USD")
			require.NoError(t, err)
			require.Empty(t, rules)
		}
	})
}
