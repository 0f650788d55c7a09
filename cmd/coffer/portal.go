package main

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/internal/portaltoken"
)

// portalPath is the prefix of customer portal links (a placeholder until
// the real portal lands): portalPath + token.
const portalPath = "/portal/session/"

// portalPage verifies a portal token and greets its customer.
func portalPage(eng *coffer.Engine, signer *portaltoken.Signer, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the URL
		w.Header().Set("X-Frame-Options", "DENY")
		claims, err := signer.Verify(r.PathValue("token"), time.Now())
		switch {
		case errors.Is(err, portaltoken.ErrExpired):
			renderPortal(w, http.StatusGone, portalData{Message: "This portal link has expired. Ask for a new one."})
			return
		case err != nil:
			renderPortal(w, http.StatusNotFound, portalData{Message: "This portal link is not valid."})
			return
		}
		c, err := eng.Customer(r.Context(), claims.CustomerID)
		if err != nil {
			status := coffer.HTTPStatus(err)
			if status >= 500 {
				log.Error("portal: reading customer", "error", err.Error())
			}
			renderPortal(w, status, portalData{Message: "This portal link is not valid."})
			return
		}
		renderPortal(w, http.StatusOK, portalData{Name: c.Name, Email: c.Email, ReturnURL: claims.ReturnURL,
			Expires: claims.ExpiresAt.Format(time.RFC3339)})
	})
}

type portalData struct {
	Name, Email, ReturnURL, Expires, Message string
}

func renderPortal(w http.ResponseWriter, status int, d portalData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = portalTmpl.Execute(w, d)
}

var portalTmpl = template.Must(template.New("portal").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{if .Name}}Portal for {{.Name}}{{else}}Customer portal{{end}}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem">
<main>
{{if .Name}}<h1>Portal for {{.Name}}</h1>
<p>{{.Email}}</p>
<p>The full customer portal (payment history, subscriptions, profile) is coming. This link is valid until {{.Expires}}.</p>
{{if .ReturnURL}}<p><a href="{{.ReturnURL}}">Back</a></p>{{end}}
{{else}}<h1>Customer portal</h1><p role="alert">{{.Message}}</p>{{end}}
</main>
</body>
</html>
`))
