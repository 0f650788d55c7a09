package coffer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// TestCustomerBalances: one read gives each customer the balances Balances
// gives it, unit wallets included; bad input is refused.
func TestCustomerBalances(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		v.defineUnits()
		a, b, c := v.customer(), v.customer(), v.customer()
		for _, p := range []struct {
			id   string
			amt  int64
			code string
		}{{a.ID, 1234, "credits"}, {a.ID, 500, "USD"}, {b.ID, 7, "api_calls"}} {
			_, err := v.CreateEntry(v.ctx, p.id, credit(p.amt, p.code, "k-"+p.code))
			require.NoError(t, err)
		}
		got, err := v.CustomerBalances(v.ctx, []string{a.ID, b.ID, c.ID, a.ID})
		require.NoError(t, err)
		require.Len(t, got, 3)
		for _, id := range []string{a.ID, b.ID, c.ID} {
			want, err := v.Balances(v.ctx, id)
			require.NoError(t, err)
			require.Equal(t, want, got[id], id)
		}
		found := map[string]int64{}
		for _, bl := range got[a.ID] {
			found[bl.Currency] = bl.Amount
		}
		require.Equal(t, int64(1234), found["credits"])
		require.Equal(t, int64(500), found["USD"])

		empty, err := v.CustomerBalances(v.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, empty)

		_, err = v.CustomerBalances(v.ctx, []string{a.ID, "bad id\x00"})
		require.ErrorIs(t, err, customer.ErrInvalid)
		many := make([]string, MaxBalancesBatch+1)
		for i := range many {
			many[i] = a.ID
		}
		_, err = v.CustomerBalances(v.ctx, many)
		require.ErrorIs(t, err, ErrInvalid)
		require.True(t, strings.Contains(err.Error(), "at most"))
		ok, err := v.CustomerBalances(v.ctx, many[:MaxBalancesBatch])
		require.NoError(t, err)
		require.Len(t, ok, 1)
	})
}
