// Package invoiceweb serves an invoice document as a page of the dashboard
// or the portal: HTML (a standalone document) or a PDF download.
package invoiceweb

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/cofferhq/coffer/invoice"
)

// CSP is the Content-Security-Policy of a served invoice: it loads and
// runs nothing; only its own inline style applies.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// WantsPDF reports whether the request asks for the PDF: ?format=pdf.
func WantsPDF(r *http.Request) bool { return r.URL.Query().Get("format") == "pdf" }

// Serve writes d as HTML, or as a PDF attachment named after its number.
// Nothing is written when rendering fails.
func Serve(w http.ResponseWriter, d invoice.Document, pdf bool) error {
	var b bytes.Buffer
	var err error
	if pdf {
		err = d.PDF(&b)
	} else {
		err = d.HTML(&b)
	}
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if pdf {
		h.Set("Content-Type", "application/pdf")
		h.Set("Content-Disposition", `attachment; filename="`+Filename(d)+`.pdf"`)
	} else {
		h.Set("Content-Type", "text/html; charset=utf-8")
	}
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b.Bytes())
	return err
}

// Filename is d's number reduced to letters, digits, dashes and
// underscores (a safe file name).
func Filename(d invoice.Document) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, d.Number)
	if name == "" {
		return "invoice"
	}
	return name
}
