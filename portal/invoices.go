package portal

import (
	"errors"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/internal/invoiceweb"
	"github.com/cofferhq/coffer/subscription"
)

// invoice serves the invoice of one of the session's customer's payments:
// HTML, or the PDF with ?format=pdf. Another customer's payment, an
// unknown one and a payment without an invoice are all "not found".
func (h *Handler) invoice(q *req) {
	d, err := h.eng.PaymentInvoice(q.r.Context(), q.r.PathValue("id"))
	if err != nil && coffer.HTTPStatus(err) >= 500 && !errors.Is(err, subscription.ErrNotFound) {
		h.serverError(q.w, q.r, err)
		return
	}
	if err != nil || d.CustomerID != q.customer.ID {
		h.notFound(q)
		return
	}
	if err := invoiceweb.Serve(q.w, d, invoiceweb.WantsPDF(q.r)); err != nil {
		h.serverError(q.w, q.r, err)
	}
}
