// Package customer holds the Customer record and its validation and search
// rules. It does no I/O.
package customer

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/cofferhq/coffer/internal/text"
)

// Errors. Every validation error wraps ErrInvalid (the 422 class) and one of
// the more specific sentinels, so callers can test either.
var (
	ErrInvalid        = errors.New("customer: invalid")
	ErrInvalidEmail   = fmt.Errorf("%w: malformed email address", ErrInvalid)
	ErrInvalidCountry = fmt.Errorf("%w: country must be an ISO-3166 alpha-2 code", ErrInvalid)
	ErrInvalidMeta    = fmt.Errorf("%w: metadata", ErrInvalid)
	ErrTooLong        = fmt.Errorf("%w: field too long", ErrInvalid)
	ErrInvalidText    = fmt.Errorf("%w: text must be valid UTF-8 without NUL bytes", ErrInvalid)
	ErrNotFound       = errors.New("customer: not found")
	ErrDuplicateDID   = errors.New("customer: did already belongs to another customer")
)

// Metadata limits, as in common payment APIs.
const (
	MaxMetadataKeys     = 50
	MaxMetadataKeyLen   = 40
	MaxMetadataValueLen = 500
	maxFieldLen         = 500
)

// Address is a postal address. Country is an ISO-3166 alpha-2 code.
type Address struct {
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

// Shipping is where goods for the customer go.
type Shipping struct {
	Address Address `json:"address"`
	Name    string  `json:"name,omitempty"`
	Phone   string  `json:"phone,omitempty"`
}

// Customer is a billed party. Every customer has a wallet created with it.
type Customer struct {
	ID            string            `json:"id"`
	Name          string            `json:"name,omitempty"`
	Email         string            `json:"email,omitempty"`
	Phone         string            `json:"phone_number,omitempty"`
	Description   string            `json:"description,omitempty"`
	DID           string            `json:"did,omitempty"`
	Address       *Address          `json:"address,omitempty"`
	Shipping      *Shipping         `json:"shipping,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	InvoicePrefix string            `json:"invoice_prefix,omitempty"`
	Delinquent    bool              `json:"delinquent"`
	Livemode      bool              `json:"livemode"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

// Params is the input of create and update. A nil field is "not given": on
// update it leaves the stored value unchanged. Metadata merges on update: a
// key with an empty value is removed.
type Params struct {
	Name        *string `json:"name,omitempty"`
	Email       *string `json:"email,omitempty"`
	Phone       *string `json:"phone_number,omitempty"`
	Description *string `json:"description,omitempty"`
	DID         *string `json:"did,omitempty"`
	// Address is merged into the customer's address field by field: each
	// non-empty field replaces the stored one, empty fields keep theirs
	// (so {City: "Paris"} moves the customer to Paris and keeps the
	// street). RemoveAddress removes the whole address; set it alone.
	Address       *Address `json:"address,omitempty"`
	RemoveAddress bool     `json:"remove_address,omitempty"`
	// Shipping is merged the same way (name, phone and each address
	// field); RemoveShipping removes it.
	Shipping       *Shipping         `json:"shipping,omitempty"`
	RemoveShipping bool              `json:"remove_shipping,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	InvoicePrefix  *string           `json:"invoice_prefix,omitempty"`
	Livemode       bool              `json:"livemode,omitempty"`
}

// mergeAddress returns base with every non-empty field of upd (normalized)
// in place of its own.
func mergeAddress(base, upd Address) Address {
	upd = NormalizeAddress(upd)
	for _, f := range [...]struct {
		dst *string
		src string
	}{
		{&base.Line1, upd.Line1}, {&base.Line2, upd.Line2}, {&base.City, upd.City},
		{&base.State, upd.State}, {&base.PostalCode, upd.PostalCode}, {&base.Country, upd.Country},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	return base
}

// New builds a validated customer from create params.
func New(id string, p Params, now time.Time) (Customer, error) {
	c := Customer{ID: id, Livemode: p.Livemode, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	return c.Apply(p, now)
}

// Apply returns c with the given fields changed and UpdatedAt moved to now.
// c itself is not modified. The result is validated.
func (c Customer) Apply(p Params, now time.Time) (Customer, error) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&c.Name, p.Name)
	set(&c.Email, p.Email)
	set(&c.Phone, p.Phone)
	set(&c.Description, p.Description)
	set(&c.DID, p.DID)
	set(&c.InvoicePrefix, p.InvoicePrefix)
	if p.RemoveAddress && p.Address != nil {
		return c, &FieldError{Field: "address", Err: fmt.Errorf("%w: address and remove_address together", ErrInvalid)}
	}
	if p.RemoveShipping && p.Shipping != nil {
		return c, &FieldError{Field: "shipping", Err: fmt.Errorf("%w: shipping and remove_shipping together", ErrInvalid)}
	}
	switch {
	case p.RemoveAddress:
		c.Address = nil
	case p.Address != nil:
		var base Address
		if c.Address != nil {
			base = *c.Address
		}
		a := mergeAddress(base, *p.Address)
		c.Address = &a
	}
	switch {
	case p.RemoveShipping:
		c.Shipping = nil
	case p.Shipping != nil:
		var base Shipping
		if c.Shipping != nil {
			base = *c.Shipping
		}
		base.Address = mergeAddress(base.Address, p.Shipping.Address)
		if n := strings.TrimSpace(p.Shipping.Name); n != "" {
			base.Name = n
		}
		if ph := strings.TrimSpace(p.Shipping.Phone); ph != "" {
			base.Phone = ph
		}
		c.Shipping = &base
	}
	if p.Metadata != nil {
		m := make(map[string]string, len(c.Metadata)+len(p.Metadata))
		for k, v := range c.Metadata {
			m[k] = v
		}
		for k, v := range p.Metadata {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		if len(m) == 0 {
			m = nil
		}
		c.Metadata = m
	}
	c.UpdatedAt = now.UTC()
	if err := c.Validate(); err != nil {
		return Customer{}, err
	}
	return c, nil
}

// Validate checks every field of c.
func (c Customer) Validate() error {
	for _, f := range [...]struct{ name, v string }{
		{"name", c.Name}, {"email", c.Email}, {"phone_number", c.Phone},
		{"description", c.Description}, {"did", c.DID}, {"invoice_prefix", c.InvoicePrefix},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	if c.Email != "" && !validEmail(c.Email) {
		return &FieldError{Field: "email", Err: ErrInvalidEmail}
	}
	if c.Address != nil {
		if err := ValidateAddress("address", *c.Address); err != nil {
			return err
		}
	}
	if c.Shipping != nil {
		if err := checkText("shipping.name", c.Shipping.Name); err != nil {
			return err
		}
		if err := checkText("shipping.phone", c.Shipping.Phone); err != nil {
			return err
		}
		if err := ValidateAddress("shipping.address", c.Shipping.Address); err != nil {
			return err
		}
	}
	return ValidateMetadata(c.Metadata)
}

// CheckDID refuses a did (already trimmed) that no customer can have, with
// the rule Validate applies to a stored one, naming the field "did": a
// lookup by such a did is a 422 on every store, not a not-found on some
// and a 500 on PostgreSQL.
func CheckDID(did string) error { return checkText("did", did) }

// CheckEmailFilter refuses an email filter (already trimmed) that no
// stored email can equal under Fold: invalid UTF-8, a NUL byte, or longer
// than a stored field, naming the field "email".
func CheckEmailFilter(email string) error { return checkText("email", email) }

// checkText applies the storable-text rule (valid UTF-8, no NUL, at most
// 500 characters) to one field.
func checkText(field, v string) error {
	err := text.Check(v, maxFieldLen)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, text.ErrTooLong):
		return &FieldError{Field: field, Err: fmt.Errorf("%w: %v", ErrTooLong, err)}
	}
	return &FieldError{Field: field, Err: fmt.Errorf("%w: %v", ErrInvalidText, err)}
}

// NormalizeAddress returns a as it is stored: every line trimmed of
// surrounding white space, the country also upper-cased (" us " is "US").
// Validate the normalized address (ValidateAddress), so what is checked is
// what is kept. Only ASCII letters of the country are upper-cased.
func NormalizeAddress(a Address) Address {
	return Address{
		Line1: strings.TrimSpace(a.Line1), Line2: strings.TrimSpace(a.Line2),
		City: strings.TrimSpace(a.City), State: strings.TrimSpace(a.State),
		PostalCode: strings.TrimSpace(a.PostalCode),
		Country:    asciiUpper(strings.TrimSpace(a.Country)),
	}
}

// asciiUpper upper-cases ASCII letters only: strings.ToUpper would turn
// "uſ" into the valid code "US".
func asciiUpper(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - ('a' - 'A')
		}
		return r
	}, s)
}

// ValidateAddress checks an address (every line storable text, country an
// ISO-3166 alpha-2 code); field prefixes the names in its errors. Records
// other than customers (a subscription's billing address) use it too.
func ValidateAddress(field string, a Address) error {
	for _, f := range [...]struct{ name, v string }{
		{"line1", a.Line1}, {"line2", a.Line2}, {"city", a.City}, {"state", a.State},
		{"postal_code", a.PostalCode},
	} {
		if err := checkText(field+"."+f.name, f.v); err != nil {
			return err
		}
	}
	if a.Country != "" && !countries[a.Country] {
		return &FieldError{Field: field + ".country", Err: fmt.Errorf("%w: %s", ErrInvalidCountry, text.Quote(a.Country))}
	}
	return nil
}

// ValidateMetadata enforces the metadata limits; it is shared by every record
// that carries metadata (subscriptions, payments).
func ValidateMetadata(m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return &FieldError{Field: "metadata", Err: fmt.Errorf("%w: more than %d keys", ErrInvalidMeta, MaxMetadataKeys)}
	}
	for k, v := range m {
		if k == "" || text.Check(k, MaxMetadataKeyLen) != nil {
			return &FieldError{Field: "metadata", Err: fmt.Errorf("%w: key %s must be 1-%d characters of valid text", ErrInvalidMeta, text.Quote(k), MaxMetadataKeyLen)}
		}
		if err := text.Check(v, MaxMetadataValueLen); err != nil {
			return &FieldError{Field: "metadata", Err: fmt.Errorf("%w: value of %s %v", ErrInvalidMeta, text.Quote(k), err)}
		}
	}
	return nil
}

func validEmail(s string) bool {
	if strings.ContainsAny(s, " \t\r\n<>") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".") && !strings.HasPrefix(domain, ".")
}

// FieldError names the field a validation error is about. It unwraps to the
// sentinel (ErrInvalidEmail, ...).
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }
