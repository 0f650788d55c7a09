package dashboard

import "github.com/cofferhq/coffer/internal/webui"

var funcs = webui.Funcs(nil)
