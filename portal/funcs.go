package portal

import (
	"html/template"

	"github.com/cofferhq/coffer/internal/webui"
)

var funcs = webui.Funcs(template.FuncMap{"paid": paid})
