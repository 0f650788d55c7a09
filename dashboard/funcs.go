package dashboard

import (
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/cofferhq/coffer/internal/webui"
)

var funcs = webui.Funcs(template.FuncMap{
	"hasPrefix": strings.HasPrefix,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"when": when,
})

// when renders an instant as a <time> element: the UTC text, the RFC 3339
// instant in datetime and title (static/dashboard.js replaces the title
// with the operator's local time); zero is "—".
func when(t time.Time) template.HTML {
	if t.IsZero() {
		return "—"
	}
	iso := html.EscapeString(webui.UTCTitle(t))
	return template.HTML(`<time datetime="` + iso + `" title="` + iso + `">` + html.EscapeString(webui.UTC(t)) + `</time>`)
}
