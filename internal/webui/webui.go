// Package webui holds what the dashboard and the customer portal share:
// the stylesheet, the template functions and the page renderer.
package webui

import (
	"embed"
	"hash/fnv"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/cofferhq/coffer/money"
)

//go:embed static/style.css
var static embed.FS

// Static serves the shared files (style.css) at their names.
func Static() fs.FS {
	st, _ := fs.Sub(static, "static")
	return st
}

// Funcs are the template functions both UIs use; extra adds a UI's own.
func Funcs(extra template.FuncMap) template.FuncMap {
	f := template.FuncMap{
		"money":    Amount,
		"utc":      UTC,
		"utcTitle": UTCTitle,
		"initials": Initials,
		"avatar":   AvatarClass,
		"has":      func(set map[string]bool, k string) bool { return set[k] },
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// UTC formats t in UTC ("2026-03-02 09:00 UTC"); zero is "—".
func UTC(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// UTCTitle is the full RFC 3339 instant, for a title attribute.
func UTCTitle(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Initials are the first letters of the first two words of name (or "?").
func Initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				out = append(out, unicode.ToUpper(r))
				break
			}
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// AvatarClass picks one of eight avatar colours from id.
func AvatarClass(id string) string {
	f := fnv.New32a()
	f.Write([]byte(id))
	return "av" + string(rune('0'+f.Sum32()%8))
}

// Amount is money.Format with the currency code: "45.00 USD".
func Amount(minor int64, code string) string { return money.Format(minor, code) + " " + code }

// Render executes the template name with data into a buffer and writes it
// with status; a template failure is logged under component and answered
// 500 (nothing half-written).
func Render(w http.ResponseWriter, t *template.Template, status int, name string, data any, log *slog.Logger, component string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		log.Error(component+": template", "template", name, "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}
