package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/invoice"
)

func TestParseServeIssuer(t *testing.T) {
	c, err := parseServe([]string{"-issuer-name", "Coffer Ltd", "-issuer-email", "billing@coffer.test", "-issuer-tax-id", "FR123",
		"-issuer-address-line1", "1 rue de Rivoli", "-issuer-city", "Paris", "-issuer-postal-code", "75001", "-issuer-country", "fr"},
		env(envAPIKey, key), io.Discard)
	require.NoError(t, err)
	require.Equal(t, invoice.Issuer{Name: "Coffer Ltd", Email: "billing@coffer.test", TaxID: "FR123",
		Address: &customer.Address{Line1: "1 rue de Rivoli", City: "Paris", PostalCode: "75001", Country: "FR"}}, c.issuer.issuer())

	c, err = parseServe(nil, env(envAPIKey, key), io.Discard)
	require.NoError(t, err)
	require.Equal(t, invoice.Issuer{}, c.issuer.issuer(), "no flags: no issuer, no address")

	_, err = parseServe([]string{"-issuer-country", "France"}, env(envAPIKey, key), io.Discard)
	require.ErrorContains(t, err, "-issuer-*")
	_, err = parseServe([]string{"-issuer-name", "bad\x00name"}, env(envAPIKey, key), io.Discard)
	require.ErrorContains(t, err, "-issuer-*")
}
