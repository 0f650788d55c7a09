package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
)

// The seeds' on-demand flow: payment_link: true and no payment_method_id;
// the customer completes the mandate on the hosted page.
func TestSubscriptionThroughPaymentLink(t *testing.T) {
	e := newTestEnv(t, WithHostedPaymentMethod(processor.CardRequiresAction))
	c := e.newCustomer("Ada", "ada@example.com")
	body := subBody(c, e.newProduct(0), "", true)
	delete(body, "payment_method_id")
	body["payment_link"] = true
	body["return_url"] = "http://127.0.0.1/done"
	r := mustOK(t, e.do("POST", "/subscriptions", body)).JSON(t)
	link, _ := r["payment_link"].(string)
	require.NotEmpty(t, link, "%v", r)
	sub := r["subscription_id"].(string)
	got := mustOK(t, e.do("GET", "/subscriptions/"+sub, nil)).JSON(t)
	assert.Equal(t, "pending", got["status"])

	// The customer approves on the page (here: the test processor directly),
	// then the mandate is confirmed.
	mandate := link[strings.LastIndex(link, "/")+1:]
	mandate, _, _ = strings.Cut(mandate, "?")
	_, err := e.proc.CompleteMandate(mandate, true)
	require.NoError(t, err)
	mustOK(t, e.do("POST", "/subscriptions/"+sub+"/confirm-mandate", nil))
	got = mustOK(t, e.do("GET", "/subscriptions/"+sub, nil)).JSON(t)
	assert.Equal(t, "active", got["status"])
	pay := e.charge(sub, 1234)
	assert.NotEmpty(t, pay)

	// Without the hosted token configured, payment_method_id is required.
	e2 := newTestEnv(t)
	c2 := e2.newCustomer("Bo", "bo@example.com")
	res := e2.do("POST", "/subscriptions", body2(c2, e2.newProduct(0)))
	assert.Equal(t, http.StatusUnprocessableEntity, res.Status)
	var eb ErrorBody
	res.Decode(t, &eb)
	assert.Equal(t, "payment_method_id", eb.Param)
}

func body2(c, p string) map[string]any {
	b := subBody(c, p, "", true)
	delete(b, "payment_method_id")
	b["payment_link"] = true
	return b
}
