package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/dashboard"
	"github.com/cofferhq/coffer/internal/portaltoken"
	"github.com/cofferhq/coffer/portal"
)

// portalPath is the prefix of customer portal links: portalPath + token.
// The portal (package portal) verifies the token there, opens the
// customer's session and sends the browser on to /portal/.
const portalPath = "/portal/session/"

// mountUI mounts the operator dashboard at /dashboard/ and the customer
// portal at /portal/. Their session cookies are signed with a key derived
// from COFFER_SESSION_SECRET (random per process when it is unset, like
// the portal links).
func mountUI(mux *http.ServeMux, eng *coffer.Engine, signer *portaltoken.Signer, cfg serveConfig, log *slog.Logger) error {
	var secret []byte
	if cfg.sessionSecret != "" {
		secret = []byte(cfg.sessionSecret)
	}
	secure := strings.HasPrefix(cfg.publicURL, "https://")
	dash, err := dashboard.New(eng, dashboard.Options{Secret: secret, SecureCookies: secure, Logger: log,
		PortalLink: func(_ context.Context, customerID, returnURL string) (string, error) {
			return cfg.publicURL + portalPath + signer.Sign(customerID, returnURL, time.Now()), nil
		}})
	if err != nil {
		return err
	}
	port, err := portal.New(eng, portal.Options{Secret: secret, SecureCookies: secure, Logger: log,
		VerifyLink: func(_ context.Context, token string) (string, string, error) {
			c, err := signer.Verify(token, time.Now())
			if errors.Is(err, portaltoken.ErrExpired) {
				return "", "", portal.ErrExpiredLink
			}
			return c.CustomerID, c.ReturnURL, err
		}})
	if err != nil {
		return err
	}
	mux.Handle("/dashboard/", dash)
	mux.Handle("/portal/", port)
	return nil
}
