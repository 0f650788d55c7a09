package httpapi

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/invoice"
	"github.com/cofferhq/coffer/subscription"
)

// Invoices: Dodo's PDF download (GET /invoices/payments/{payment_id}) and
// coffer's extensions: an invoice as JSON, HTML or PDF by id, and a
// customer's invoices. An invoice is a receipt once paid; a retry's
// payment shares the invoice of the charge it collects.

// Content types of the invoice renderings.
const (
	contentPDF  = "application/pdf"
	contentHTML = "text/html; charset=utf-8"
)

// MaxInvoiceBytes bounds a rendered invoice (a document has a handful of
// lines and at most the refunds of one payment: far below this).
const MaxInvoiceBytes = 1 << 20

// rawBody is an answer that is not JSON: its bytes and content type.
type rawBody struct {
	contentType string
	body        []byte
}

func writeRaw(w http.ResponseWriter, status int, b rawBody) {
	h := w.Header()
	h.Set("Content-Type", b.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(b.contentType, "text/html") {
		// A standalone document: nothing loads, nothing runs.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	}
	w.WriteHeader(status)
	_, _ = w.Write(b.body)
}

// rawAnswer documents (in the OpenAPI document) a route that answers in
// other content types than JSON, and optionally JSON too.
type rawAnswer struct {
	json  any      // the JSON answer's Go value; nil: no JSON answer
	types []string // the other content types: a binary string each
}

// rawContent is the OpenAPI content map of a rawAnswer.
func (g *schemaGen) rawContent(a rawAnswer) (map[string]any, error) {
	content := map[string]any{}
	if a.json != nil {
		s, err := g.schema(reflect.TypeOf(a.json), false)
		if err != nil {
			return nil, err
		}
		content["application/json"] = map[string]any{"schema": s}
	}
	for _, t := range a.types {
		t, _, _ = strings.Cut(t, ";")
		content[t] = map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
	}
	return content, nil
}

// InvoiceList is a page of a customer's invoices.
type InvoiceList = Page[invoice.Document]

var formatQuery = []queryParam{{Name: "format", Type: "string",
	Description: "coffer extension: pdf (default here) or html; an Accept: text/html header also selects html."}}

func (h *Handler) invoiceRoutes() {
	h.handle("GET /invoices/payments/{payment_id}", h.paymentInvoice, doc{Tag: "invoices",
		Summary: "Download a payment's invoice (PDF)",
		Description: "Dodo's invoice download: the invoice of the payment as a PDF (a receipt once paid). A retry's payment " +
			"(retry_of set) shares the invoice of the charge it collects. coffer extension: format=html (or Accept: text/html) " +
			"answers the same document as HTML.",
		Query: formatQuery, Result: rawAnswer{types: []string{contentPDF, contentHTML}}})
	h.handle("GET /invoices/{invoice_id}", h.getInvoice, doc{Tag: "invoices", Extension: true,
		Summary: "Retrieve an invoice",
		Description: "The invoice document as JSON: number (the customer's invoice_prefix and a gapless per-customer " +
			"sequence), status (open, paid, void, refunded), line items, fee, total, wallet applied, card charged, refunds, " +
			"issuer and bill-to. format=pdf or format=html (or Accept: application/pdf, text/html) renders it instead.",
		Query:  []queryParam{{Name: "format", Type: "string", Description: "json (default), pdf or html."}},
		Result: rawAnswer{json: invoice.Document{}, types: []string{contentPDF, contentHTML}}})
	h.handle("GET /customers/{customer_id}/invoices", h.listInvoices, doc{Tag: "invoices", Extension: true,
		Summary:     "List a customer's invoices",
		Description: "Newest (highest number) first, as documents. customer_id may be \"me\" for a restricted key.",
		Query:       pageQuery, Result: InvoiceList{}})
}

// invoiceFormat picks the rendering: the format parameter, else the
// Accept header, else def.
func (c *call) invoiceFormat(def string) (string, error) {
	q, err := c.query()
	if err != nil {
		return "", err
	}
	if q.has("format") {
		switch f := strings.ToLower(q.str("format")); f {
		case "json", "pdf", "html":
			return f, nil
		}
		return "", invalidParam("format", "format must be json, pdf or html")
	}
	accept := c.r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, "application/pdf"):
		return "pdf", nil
	case strings.Contains(accept, "text/html"):
		return "html", nil
	}
	return def, nil
}

func renderInvoice(d invoice.Document, format string) (any, error) {
	var b bytes.Buffer
	switch format {
	case "pdf":
		if err := d.PDF(&b); err != nil {
			return nil, err
		}
		return rawBody{contentType: contentPDF, body: b.Bytes()}, nil
	case "html":
		if err := d.HTML(&b); err != nil {
			return nil, err
		}
		return rawBody{contentType: contentHTML, body: b.Bytes()}, nil
	}
	return d, nil
}

func (h *Handler) paymentInvoice(c *call) (any, error) {
	format, err := c.invoiceFormat("pdf")
	if err != nil {
		return nil, err
	}
	if format == "json" {
		return nil, invalidParam("format", "this route renders: format must be pdf or html (GET /invoices/{invoice_id} answers JSON)")
	}
	d, err := ownedParam(c, "payment_id", h.eng.PaymentInvoice, subscription.ErrPaymentNotFound,
		func(d invoice.Document) string { return d.CustomerID })
	if err != nil {
		return nil, err
	}
	return renderInvoice(d, format)
}

func (h *Handler) getInvoice(c *call) (any, error) {
	format, err := c.invoiceFormat("json")
	if err != nil {
		return nil, err
	}
	d, err := ownedParam(c, "invoice_id", h.eng.Invoice, coffer.ErrInvoiceNotFound,
		func(d invoice.Document) string { return d.CustomerID })
	if err != nil {
		return nil, err
	}
	return renderInvoice(d, format)
}

func (h *Handler) listInvoices(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	_, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[invoice.Document], error) {
		return h.eng.ListInvoices(c.ctx(), cu.ID, lp)
	}, func(d invoice.Document) string { return d.ID }, func(d invoice.Document) (invoice.Document, error) { return d, nil })
}

// invoiceRef is what a payment's JSON says of its invoice: the id (the
// invoice of the debt for a retry) and the PDF download's path.
func invoiceRef(p subscription.Payment) (id, url *string) {
	i := invoice.IDFor(invoice.InvoicedPayment(p))
	u := "/invoices/payments/" + p.ID
	return &i, &u
}

// overdueInvoiceRecords reads the invoice records of overdue charges, in
// batches of coffer.MaxInvoiceLookup.
func (h *Handler) overdueInvoiceRecords(c *call, pays []subscription.Payment) (map[string]invoice.Record, error) {
	out := make(map[string]invoice.Record, len(pays))
	for len(pays) > 0 {
		n := min(len(pays), coffer.MaxInvoiceLookup)
		m, err := h.eng.PaymentInvoiceRecords(c.ctx(), pays[:n])
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
		pays = pays[n:]
	}
	return out, nil
}
