package httpapi

import (
	"net/url"
)

// checkURL accepts an absolute http or https URL of at most 2048 bytes.
func checkURL(param, s string) error {
	if len(s) > 2048 {
		return invalidParam(param, param+" is longer than 2048 bytes")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalidParam(param, param+" must be an absolute http or https URL")
	}
	return nil
}
