package dashboard_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
)

// TestUnitBalancesShown: the dashboard's customer page and the portal show
// a customer's credit-unit wallets with the unit's decimal places.
func TestUnitBalancesShown(t *testing.T) {
	e := newEnv(t, 0)
	for _, p := range []coffer.UnitParams{{Code: "api_calls"}, {Code: "ai_credits", Exponent: 2,
		Price: &money.UnitPrice{Amount: 1, Currency: "USD", Per: 1}}} {
		_, err := e.eng.DefineUnit(e.ctx, p)
		require.NoError(t, err)
	}
	for _, en := range []coffer.EntryParams{
		{Amount: 1500, Currency: "api_calls", Type: ledger.Credit, Reason: "plan"},
		{Amount: 1234, Currency: "ai_credits", Type: ledger.Credit, Reason: "plan"},
	} {
		_, err := e.eng.CreateEntry(e.ctx, e.ada.ID, en)
		require.NoError(t, err)
	}
	c := e.client()
	c.signIn(e.opSecret)
	a := c.get("/dashboard/customers/" + e.ada.ID + "?tab=wallet")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "api_calls balance")
	require.Contains(t, a.body, "1500 api_calls")
	require.Contains(t, a.body, "12.34 ai_credits")

	p := e.client().openPortal(e.ada.ID)
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, "1500 api_calls")
	require.Contains(t, p.body, "12.34 ai_credits")
}
