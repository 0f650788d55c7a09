package webui

import (
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFuncs(t *testing.T) {
	require.Equal(t, "AL", Initials("ada  lovelace byron"))
	require.Equal(t, "?", Initials("  -- "))
	require.Equal(t, "—", UTC(time.Time{}))
	require.Equal(t, "2026-03-02 09:00 UTC", UTC(time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CET", 3600))))
	require.Equal(t, "45.00 USD", Amount(4500, "USD"))
	require.Equal(t, "5 JPY", Amount(5, "JPY"))
	require.Equal(t, AvatarClass("cus_1"), AvatarClass("cus_1"))
	f := Funcs(template.FuncMap{"extra": func() string { return "x" }})
	require.Contains(t, f, "money")
	require.Contains(t, f, "extra")
	b, err := fs.ReadFile(Static(), "style.css")
	require.NoError(t, err)
	require.NotEmpty(t, b)
}

func TestRenderNeverHalfWrites(t *testing.T) {
	tm := template.Must(template.New("").Parse(`{{define "ok"}}<p>{{.}}</p>{{end}}{{define "bad"}}<p>{{.Missing}}</p>{{end}}`))
	w := httptest.NewRecorder()
	Render(w, tm, http.StatusOK, "ok", "hi", slog.New(slog.DiscardHandler), "test")
	require.Equal(t, "<p>hi</p>", w.Body.String())
	require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	w = httptest.NewRecorder()
	Render(w, tm, http.StatusOK, "bad", "a string has no field", slog.New(slog.DiscardHandler), "test")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.NotContains(t, w.Body.String(), "<p>")
}
