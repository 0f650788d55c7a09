package main

import (
	"flag"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/invoice"
)

// issuerConfig is serve's -issuer-* flags: the seller shown on invoices.
type issuerConfig struct {
	name, email, taxID string
	address            customer.Address
}

func (c *issuerConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.name, "issuer-name", "", "the seller's `name` shown on invoices")
	fs.StringVar(&c.email, "issuer-email", "", "the seller's `email` shown on invoices")
	fs.StringVar(&c.taxID, "issuer-tax-id", "", "the seller's tax (VAT) registration `number` shown on invoices")
	fs.StringVar(&c.address.Line1, "issuer-address-line1", "", "the seller's street `address` on invoices")
	fs.StringVar(&c.address.Line2, "issuer-address-line2", "", "the seller's second address `line` on invoices")
	fs.StringVar(&c.address.City, "issuer-city", "", "the seller's `city` on invoices")
	fs.StringVar(&c.address.State, "issuer-state", "", "the seller's `state` or region on invoices")
	fs.StringVar(&c.address.PostalCode, "issuer-postal-code", "", "the seller's postal `code` on invoices")
	fs.StringVar(&c.address.Country, "issuer-country", "", "the seller's `country` on invoices (ISO-3166 alpha-2, e.g. FR)")
}

// issuer is the invoice.Issuer of the flags (no address when every address
// flag is empty). coffer.WithIssuer validates it.
func (c issuerConfig) issuer() invoice.Issuer {
	i := invoice.Issuer{Name: c.name, Email: c.email, TaxID: c.taxID}
	if c.address != (customer.Address{}) {
		a := customer.NormalizeAddress(c.address)
		i.Address = &a
	}
	return i
}
