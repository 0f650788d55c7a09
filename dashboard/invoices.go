package dashboard

import (
	"fmt"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/internal/invoiceweb"
)

// invoice serves the invoice of a customer's payment (HTML, or the PDF
// with ?format=pdf), linked from the customer's payments tab. A payment of
// another customer is not found.
func (h *Handler) invoice(q *req) {
	d, err := h.eng.PaymentInvoice(q.r.Context(), q.r.PathValue("pid"))
	if err == nil && d.CustomerID != q.r.PathValue("id") {
		err = fmt.Errorf("%w: the payment is another customer's", coffer.ErrInvoiceNotFound)
	}
	if err != nil {
		h.engineError(q, err)
		return
	}
	if err := invoiceweb.Serve(q.w, d, invoiceweb.WantsPDF(q.r)); err != nil {
		h.serverError(q.w, q.r, err)
	}
}
