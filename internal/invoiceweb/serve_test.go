package invoiceweb

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/invoice"
)

func TestFilename(t *testing.T) {
	require.Equal(t, "ADA-0001", Filename(invoice.Document{Number: "ADA-0001"}))
	require.Equal(t, "a__b_-0002", Filename(invoice.Document{Number: `a"/b\-0002`}), "no quote, slash or backslash")
	require.Equal(t, "invoice", Filename(invoice.Document{}))
}

func TestServe(t *testing.T) {
	d := invoice.Document{Number: `X"Y-0001`, Currency: "USD", Lines: []invoice.Line{{Description: "w", Quantity: 1}}}
	w := httptest.NewRecorder()
	require.NoError(t, Serve(w, d, true))
	require.Equal(t, "application/pdf", w.Header().Get("Content-Type"))
	require.Equal(t, `attachment; filename="X_Y-0001.pdf"`, w.Header().Get("Content-Disposition"))
	require.Equal(t, CSP, w.Header().Get("Content-Security-Policy"))
	w = httptest.NewRecorder()
	require.NoError(t, Serve(w, d, false))
	require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	require.Contains(t, w.Body.String(), "X&#34;Y-0001")
}
