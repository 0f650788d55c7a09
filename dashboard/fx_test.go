package dashboard_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/fx"
)

// TestPaymentShowsFeeAndRate: a converted payment shows, under its amount
// on the customer's payments tab, the price before conversion with the
// rate, and the fee; a payment that was not converted shows neither.
func TestPaymentShowsFeeAndRate(t *testing.T) {
	rates, err := fx.ParseStatic(time.Time{}, "EUR/USD=1.0843")
	require.NoError(t, err)
	e := newEnvWith(t, 0, coffer.WithFX(rates), coffer.WithAdaptiveFee(250))
	p, err := e.eng.Charge(e.ctx, e.adaSub.ID, coffer.ChargeParams{ProductPrice: new(int64(20_00)), ProductCurrency: "EUR",
		AdaptiveCurrencyFeesInclusive: new(false)})
	require.NoError(t, err)
	require.Equal(t, int64(22_23), p.Amount)
	c := e.client()
	require.Equal(t, http.StatusSeeOther, c.signIn(e.opSecret).status)
	a := c.get("/dashboard/customers/" + e.ada.ID + "?tab=payments")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `22.23 USD<br><span class="muted">price 20.00 EUR at 1.0843</span><br><span class="muted">fee 0.54 USD on top</span>`)
	require.Equal(t, 1, strings.Count(a.body, "price 20.00 EUR"), "only the converted payment")
	require.Equal(t, 1, strings.Count(a.body, "fee 0.54 USD"))
}
