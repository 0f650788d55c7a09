package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// productBody is a valid Dodo ProductCreateParams.
func productBody(price int64) map[string]any {
	return map[string]any{"name": "Usage plan", "tax_category": "saas", "description": "metered",
		"price": map[string]any{"type": "recurring_price", "currency": "USD", "price": price,
			"payment_frequency_count": 1, "payment_frequency_interval": "Month",
			"subscription_period_count": 1, "subscription_period_interval": "Month"}}
}

func (e *testEnv) newProduct(price int64) string {
	e.t.Helper()
	return mustOK(e.t, e.do("POST", "/products", productBody(price))).JSON(e.t)["product_id"].(string)
}

// subBody is a valid on-demand SubscriptionCreateParams.
func subBody(customerID, productID, card string, mandateOnly bool) map[string]any {
	return map[string]any{
		"billing":  map[string]any{"country": "US", "city": "NYC", "state": "NY", "street": "1 Main St", "zipcode": "10001"},
		"customer": map[string]any{"customer_id": customerID}, "product_id": productID, "quantity": 1,
		"on_demand":         map[string]any{"mandate_only": mandateOnly, "product_price": 500, "product_currency": "USD"},
		"payment_method_id": card, "metadata": map[string]any{"source": "test"},
	}
}

// newSub creates an active mandate-only subscription and returns its id.
func (e *testEnv) newSub(customerID, productID, card string) string {
	e.t.Helper()
	r := mustOK(e.t, e.do("POST", "/subscriptions", subBody(customerID, productID, card, true))).JSON(e.t)
	return r["subscription_id"].(string)
}

// charge charges a subscription and returns the payment id.
func (e *testEnv) charge(subID string, amount int64) string {
	e.t.Helper()
	r := mustOK(e.t, e.do("POST", "/subscriptions/"+subID+"/charge", map[string]any{"product_price": amount})).JSON(e.t)
	return r["payment_id"].(string)
}

// errCase is a request that must fail.
type errCase struct {
	name, method, path string
	body               any
	status             int
	code               string
}

func (e *testEnv) expectErrors(key string, cases []errCase) {
	e.t.Helper()
	for _, tc := range cases {
		e.t.Run(tc.name, func(t *testing.T) {
			r := e.doKey(key, tc.method, tc.path, tc.body, nil)
			require.Equal(t, tc.status, r.Status, "body %s", r.Body)
			if tc.code != "" {
				require.Equal(t, tc.code, r.Code(t), "body %s", r.Body)
			}
			require.Equal(t, "false", r.Header.Get("X-Should-Retry"))
		})
	}
}
