package httpapi

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/pdfcheck"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

func init() {
	// The response validator reads PDF and HTML answers as binary strings.
	openapi3filter.RegisterBodyDecoder(contentPDF, openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
}

func TestInvoiceRoutes(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	_, err := e.eng.UpdateCustomer(e.ctx, c, customer.Params{InvoicePrefix: new("ADA")})
	require.NoError(t, err)
	p, err := e.eng.ChargeOneTime(e.ctx, c, coffer.OneTimeParams{Amount: 12_34, Currency: "USD",
		PaymentMethod: processor.CardOK, Description: "Widget"})
	require.NoError(t, err)
	require.Equal(t, subscription.PaymentSucceeded, p.Status)

	// Dodo's download: a PDF.
	r := mustOK(t, e.do("GET", "/invoices/payments/"+p.ID, nil))
	assert.Equal(t, "application/pdf", r.Header.Get("Content-Type"))
	require.True(t, bytes.HasPrefix(r.Body, []byte("%PDF-")))
	doc, err := pdfcheck.Parse(r.Body)
	require.NoError(t, err)
	assert.Contains(t, doc.Text, "Receipt ADA-0001")
	assert.Contains(t, doc.Text, "12.34 USD")

	// HTML, by parameter or Accept header.
	r = mustOK(t, e.do("GET", "/invoices/payments/"+p.ID+"?format=html", nil))
	assert.Equal(t, "text/html; charset=utf-8", r.Header.Get("Content-Type"))
	assert.Contains(t, r.Header.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Contains(t, string(r.Body), "<h1>Receipt ADA-0001</h1>")
	assert.Contains(t, string(r.Body), "Widget")
	r = mustOK(t, e.doKey(opKey, "GET", "/invoices/payments/"+p.ID, nil, http.Header{"Accept": {"text/html"}}))
	assert.Contains(t, string(r.Body), "ADA-0001")

	// The payment names its invoice.
	pay := mustOK(t, e.do("GET", "/payments/"+p.ID, nil)).JSON(t)
	invID := invoice.IDFor(p.ID)
	assert.Equal(t, invID, pay["invoice_id"])
	assert.Equal(t, "/invoices/payments/"+p.ID, pay["invoice_url"])
	list := mustOK(t, e.do("GET", "/payments?customer_id="+c, nil)).JSON(t)
	assert.Equal(t, invID, list["items"].([]any)[0].(map[string]any)["invoice_id"])

	// The extension routes: JSON by id, renderings, the customer's list.
	var d invoice.Document
	mustOK(t, e.do("GET", "/invoices/"+invID, nil)).Decode(t, &d)
	assert.Equal(t, "ADA-0001", d.Number)
	assert.Equal(t, invoice.StatusPaid, d.Status)
	assert.Equal(t, int64(12_34), d.Total)
	assert.Equal(t, int64(12_34), d.CardCharged)
	r = mustOK(t, e.do("GET", "/invoices/"+invID+"?format=pdf", nil))
	assert.Equal(t, "application/pdf", r.Header.Get("Content-Type"))
	r = mustOK(t, e.doKey(opKey, "GET", "/invoices/"+invID, nil, http.Header{"Accept": {"application/pdf"}}))
	assert.Equal(t, "application/pdf", r.Header.Get("Content-Type"))

	p2, err := e.eng.ChargeOneTime(e.ctx, c, coffer.OneTimeParams{Amount: 50, Currency: "USD", PaymentMethod: processor.CardDoNotHonor})
	require.NoError(t, err)
	var page Page[invoice.Document]
	mustOK(t, e.do("GET", "/customers/"+c+"/invoices", nil)).Decode(t, &page)
	require.Len(t, page.Items, 2)
	assert.Equal(t, "ADA-0002", page.Items[0].Number)
	assert.Equal(t, p2.ID, page.Items[0].PaymentID)
	assert.Equal(t, invoice.StatusVoid, page.Items[0].Status)
	assert.Equal(t, "ADA-0001", page.Items[1].Number)
	page = Page[invoice.Document]{}
	mustOK(t, e.do("GET", "/customers/"+c+"/invoices?page_size=1", nil)).Decode(t, &page)
	require.Len(t, page.Items, 1)
	assert.True(t, page.HasMore)
	page2 := Page[invoice.Document]{}
	mustOK(t, e.do("GET", "/customers/"+c+"/invoices?page_size=1&starting_after="+page.Items[0].ID, nil)).Decode(t, &page2)
	require.Len(t, page2.Items, 1)
	assert.Equal(t, "ADA-0001", page2.Items[0].Number)

	// A restricted key reaches its own customer's invoices only.
	kc := "sk_test_for_" + c
	mustOK(t, e.doKey(kc, "GET", "/invoices/payments/"+p.ID, nil, nil))
	mustOK(t, e.doKey(kc, "GET", "/customers/me/invoices", nil, nil))
	other := e.newCustomer("Bob", "bob@example.com")
	ko := "sk_test_for_" + other
	assert.Equal(t, http.StatusForbidden, e.doKey(ko, "GET", "/invoices/payments/"+p.ID, nil, nil).Status)
	assert.Equal(t, http.StatusForbidden, e.doKey(ko, "GET", "/invoices/"+invID, nil, nil).Status)
	assert.Equal(t, http.StatusForbidden, e.doKey(ko, "GET", "/customers/"+c+"/invoices", nil, nil).Status)
}

func TestInvoiceRouteRefusals(t *testing.T) {
	e := newTestEnv(t)
	c := e.newCustomer("Ada", "ada@example.com")
	p, err := e.eng.ChargeOneTime(e.ctx, c, coffer.OneTimeParams{Amount: 1_00, Currency: "USD", PaymentMethod: processor.CardOK})
	require.NoError(t, err)
	for _, tc := range []struct {
		name, path string
		status     int
		code       string
	}{
		{"unknown payment", "/invoices/payments/pay_missing", 404, "PAYMENT_NOT_FOUND"},
		{"unknown invoice", "/invoices/inv_missing", 404, "INVOICE_NOT_FOUND"},
		{"bad format", "/invoices/payments/" + p.ID + "?format=doc", 422, "INVALID_PARAMETER"},
		{"json on the download", "/invoices/payments/" + p.ID + "?format=json", 422, "INVALID_PARAMETER"},
		{"bad format by id", "/invoices/" + invoice.IDFor(p.ID) + "?format=xml", 422, "INVALID_PARAMETER"},
		{"unknown customer", "/customers/cus_missing/invoices", 404, "CUSTOMER_NOT_FOUND"},
		{"bad cursor", "/customers/" + c + "/invoices?starting_after=inv_missing", 422, ""},
		{"bad page size", "/customers/" + c + "/invoices?page_size=1000", 422, "INVALID_PARAMETER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", tc.path, nil)
			require.Equal(t, tc.status, r.Status, "body: %s", r.Body)
			assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"))
			if tc.code != "" {
				assert.Equal(t, tc.code, r.Code(t))
			}
		})
	}
	assert.Equal(t, http.StatusUnauthorized, e.doKey("", "GET", "/invoices/payments/"+p.ID, nil, nil).Status)
}
