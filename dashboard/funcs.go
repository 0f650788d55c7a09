package dashboard

import (
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
	"day": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
})
