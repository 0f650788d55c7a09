package dashboard_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/internal/invoiceweb"
	"github.com/cofferhq/coffer/internal/pdfcheck"
)

func TestPortalInvoiceDownloads(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	home := c.openPortal(e.ada.ID)
	rec, err := e.eng.PaymentInvoice(e.ctx, e.adaPay.ID)
	require.NoError(t, err)
	num := rec.Number
	require.Regexp(t, `^INV-\d{4}$`, num)
	// The payment history links the invoice, HTML and PDF.
	html := "/portal/payments/" + e.adaPay.ID + "/invoice"
	require.Contains(t, home.body, `<th scope="col">Invoice</th>`)
	require.Contains(t, home.body, `href="`+html+`" aria-label="Invoice `+num+` (HTML)">`+num+`</a>`)
	require.Contains(t, home.body, `href="`+html+`?format=pdf"`)

	r := c.get(html)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	require.Equal(t, invoiceweb.CSP, r.header.Get("Content-Security-Policy"))
	for _, want := range []string{"<h1>Receipt " + num + "</h1>", "API usage, March", "45.00 USD", "Paid from wallet",
		"5.00 USD", "40.00 USD", "Ada Lovelace", "Coffer Demo Ltd", "FR12345678901", "1 rue de Rivoli"} {
		require.Contains(t, r.body, want)
	}
	r = c.get(html + "?format=pdf")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "application/pdf", r.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="`+num+`.pdf"`, r.header.Get("Content-Disposition"))
	doc, err := pdfcheck.Parse([]byte(r.body))
	require.NoError(t, err)
	require.Contains(t, doc.Text, num)

	// Bob's invoice, an unknown payment: not found, nothing of Bob's shown.
	for _, u := range []string{"/portal/payments/" + e.bobPay.ID + "/invoice", "/portal/payments/" + e.bobPay.ID + "/invoice?format=pdf",
		"/portal/payments/pay_nope/invoice"} {
		a := c.get(u)
		require.Equal(t, http.StatusNotFound, a.status, u)
		require.NotContains(t, a.body, "Bob", u)
		require.NotContains(t, a.header.Get("Content-Type"), "pdf", u)
	}
	// No session: nothing.
	require.Equal(t, http.StatusUnauthorized, e.client().get(html).status)
}

func TestDashboardInvoiceLinks(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	require.Equal(t, http.StatusSeeOther, c.signIn(e.opSecret).status)
	rec, err := e.eng.PaymentInvoice(e.ctx, e.adaPay.ID)
	require.NoError(t, err)
	page := c.get("/dashboard/customers/" + e.ada.ID + "?tab=payments")
	require.Equal(t, http.StatusOK, page.status)
	link := "/dashboard/customers/" + e.ada.ID + "/payments/" + e.adaPay.ID + "/invoice"
	require.Contains(t, page.body, `<th scope="col">Invoice</th>`)
	require.Contains(t, page.body, `href="`+link+`" aria-label="Invoice `+rec.Number+` (HTML)">`+rec.Number+`</a>`)

	r := c.get(link)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "Receipt "+rec.Number)
	r = c.get(link + "?format=pdf")
	require.Equal(t, http.StatusOK, r.status)
	require.True(t, strings.HasPrefix(r.body, "%PDF-"))

	// Bob's payment under Ada's URL, an unknown payment: 404.
	require.Equal(t, http.StatusNotFound, c.get("/dashboard/customers/"+e.ada.ID+"/payments/"+e.bobPay.ID+"/invoice").status)
	require.Equal(t, http.StatusNotFound, c.get("/dashboard/customers/"+e.ada.ID+"/payments/pay_nope/invoice").status)
	// Signed out: no invoice.
	require.NotEqual(t, http.StatusOK, e.client().get(link).status)
}
