package customer_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
)

var (
	t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(90 * time.Minute)
)

func str(s string) *string { return new(s) }

func fullParams() customer.Params {
	return customer.Params{
		Name:          str("Ada Lovelace"),
		Email:         str("ada@example.com"),
		Phone:         str("+44 20 7946 0000"),
		Description:   str("first programmer"),
		DID:           str("did:example:ada"),
		Address:       &customer.Address{Line1: "12 St James's Sq", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
		Shipping:      &customer.Shipping{Name: "Ada", Phone: "+44 1", Address: customer.Address{City: "Paris", Country: "fr"}},
		Metadata:      map[string]string{"plan": "gold", "ref": "42"},
		InvoicePrefix: str("ADA"),
	}
}

// requireFieldErr checks err names field and matches both the specific
// sentinel and ErrInvalid.
func requireFieldErr(t *testing.T, err error, field string, sentinel error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	var fe *customer.FieldError
	require.ErrorAs(t, err, &fe, msgAndArgs...)
	require.Equal(t, field, fe.Field, msgAndArgs...)
	require.ErrorIs(t, err, sentinel, msgAndArgs...)
	require.ErrorIs(t, err, customer.ErrInvalid, msgAndArgs...)
	require.True(t, strings.HasPrefix(err.Error(), field+": "), "error %q names the field", err.Error())
}

func TestNewFull(t *testing.T) {
	in := time.Date(2025, 3, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	p := fullParams()
	p.Livemode = true
	c, err := customer.New("cus_1", p, in)
	require.NoError(t, err)
	require.Equal(t, "cus_1", c.ID)
	require.Equal(t, "Ada Lovelace", c.Name)
	require.Equal(t, "ada@example.com", c.Email)
	require.Equal(t, "+44 20 7946 0000", c.Phone)
	require.Equal(t, "first programmer", c.Description)
	require.Equal(t, "did:example:ada", c.DID)
	require.Equal(t, "ADA", c.InvoicePrefix)
	require.Equal(t, "GB", c.Address.Country)
	require.Equal(t, "FR", c.Shipping.Address.Country, "shipping country normalised")
	require.Equal(t, map[string]string{"plan": "gold", "ref": "42"}, c.Metadata)
	require.True(t, c.Livemode)
	require.False(t, c.Delinquent)
	require.Equal(t, t0, c.CreatedAt)
	require.Equal(t, time.UTC, c.CreatedAt.Location(), "times are stored in UTC")
	require.Equal(t, c.CreatedAt, c.UpdatedAt)
	require.NoError(t, c.Validate())
}

func TestNewEmpty(t *testing.T) {
	c, err := customer.New("cus_2", customer.Params{}, t0)
	require.NoError(t, err)
	require.Equal(t, customer.Customer{ID: "cus_2", CreatedAt: t0, UpdatedAt: t0}, c)
}

func TestNewTrimsWhitespace(t *testing.T) {
	c, err := customer.New("cus", customer.Params{Name: str("  Ada \t"), Email: str(" ada@example.com\n"), Address: &customer.Address{Country: " us "}}, t0)
	require.NoError(t, err)
	require.Equal(t, "Ada", c.Name)
	require.Equal(t, "ada@example.com", c.Email)
	require.Equal(t, "US", c.Address.Country)
}

func TestNewDoesNotAliasParams(t *testing.T) {
	p := fullParams()
	c, err := customer.New("cus", p, t0)
	require.NoError(t, err)
	p.Address.City = "changed"
	p.Shipping.Name = "changed"
	p.Metadata["plan"] = "changed"
	require.Equal(t, "London", c.Address.City)
	require.Equal(t, "Ada", c.Shipping.Name)
	require.Equal(t, "gold", c.Metadata["plan"])
}

func TestEmailValidation(t *testing.T) {
	valid := []string{
		"a@b.co",
		"ada@example.com",
		"first.last@example.com",
		"user+tag@example.co.uk",
		"x_y-z@sub.example.org",
		"o'brien@example.ie",
		"1234567890@example.com",
		"UPPER@EXAMPLE.COM",
		"a!#$%&*=?^`{|}~@example.com",
		"",        // no email at all is fine
		"   ",     // trims to no email
		" a@b.co", // trimmed
	}
	for _, e := range valid {
		_, err := customer.New("cus", customer.Params{Email: str(e)}, t0)
		require.NoError(t, err, "%q should be accepted", e)
	}
	invalid := []string{
		"plainaddress",
		"@example.com",
		"a@",
		"a@b",            // no dot in the domain
		"a@localhost",    // no dot in the domain
		"a@.example.com", // domain starts with a dot
		"a@example.com.", // domain ends with a dot
		"a@b..c",
		"a..b@example.com",
		".a@example.com",
		"a.@example.com",
		"a b@example.com",
		"a@exa mple.com",
		"a\t@example.com",
		"a@example\n.com",
		"<a@example.com>",
		"Ada <a@example.com>",
		"a@example.com (Ada)",
		"a@example.com(comment)",
		"a(comment)@example.com",
		`"a b"@example.com`,
		`"a"@example.com`, // parses, but not as written
		"a@@example.com",
		"a@b@example.com",
		"a,b@example.com",
		"a@example.com,b@example.com",
		"a@example.com;",
		"a@exam<ple.com",
		"mailto:a@example.com",
		"a@[",
		"@",
		"a",
	}
	for _, e := range invalid {
		c, err := customer.New("cus", customer.Params{Email: str(e)}, t0)
		requireFieldErr(t, err, "email", customer.ErrInvalidEmail, "%q should be rejected", e)
		require.Equal(t, customer.Customer{}, c, "zero customer on error")
	}
}

func TestCountryValidation(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"US", "US"}, {"us", "US"}, {"Gb", "GB"}, {" in ", "IN"}, {"jp", "JP"}, {"", ""}, {"  ", ""},
	} {
		c, err := customer.New("cus", customer.Params{
			Address:  &customer.Address{Country: tt.in},
			Shipping: &customer.Shipping{Address: customer.Address{Country: tt.in}},
		}, t0)
		require.NoError(t, err, "%q", tt.in)
		require.Equal(t, tt.want, c.Address.Country)
		require.Equal(t, tt.want, c.Shipping.Address.Country)
	}
	for _, in := range []string{"UK", "EU", "XX", "ZZ", "USA", "U", "1", "12", "U1", "ÜS", "U S", "Us\x00", "GBR", "AA"} {
		_, err := customer.New("cus", customer.Params{Address: &customer.Address{Country: in}}, t0)
		requireFieldErr(t, err, "address.country", customer.ErrInvalidCountry, "%q", in)
		_, err = customer.New("cus", customer.Params{Shipping: &customer.Shipping{Address: customer.Address{Country: in}}}, t0)
		requireFieldErr(t, err, "shipping.address.country", customer.ErrInvalidCountry, "%q", in)
	}
}

func TestValidCountry(t *testing.T) {
	for _, c := range []string{"US", "GB", "IN", "JP", "DE", "FR", "AX", "SS", "BQ", "CW", "SX", "ZW"} {
		require.True(t, customer.ValidCountry(c), c)
	}
	for _, c := range []string{"us", "UK", "EU", "XK", "YU", "", "USA"} {
		require.False(t, customer.ValidCountry(c), c)
	}
}

func TestValidateDoesNotNormalise(t *testing.T) {
	// Apply normalises input; Validate judges a stored record as it is.
	c := customer.Customer{ID: "cus", Address: &customer.Address{Country: "us"}}
	require.ErrorIs(t, c.Validate(), customer.ErrInvalidCountry)
}

func meta(n int) map[string]string {
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("k%02d", i)] = "v"
	}
	return m
}

func TestMetadataLimits(t *testing.T) {
	ok := []map[string]string{
		nil,
		{},
		meta(customer.MaxMetadataKeys),
		{strings.Repeat("k", customer.MaxMetadataKeyLen): "v"},
		{strings.Repeat("é", customer.MaxMetadataKeyLen): "v"}, // characters, not bytes
		{"k": strings.Repeat("v", customer.MaxMetadataValueLen)},
		{"k": strings.Repeat("€", customer.MaxMetadataValueLen)},
	}
	for i, m := range ok {
		_, err := customer.New("cus", customer.Params{Metadata: m}, t0)
		require.NoError(t, err, "case %d", i)
		require.NoError(t, customer.ValidateMetadata(m), "case %d", i)
	}
	bad := []map[string]string{
		meta(customer.MaxMetadataKeys + 1),
		{strings.Repeat("k", customer.MaxMetadataKeyLen+1): "v"},
		{strings.Repeat("é", customer.MaxMetadataKeyLen+1): "v"},
		{"k": strings.Repeat("v", customer.MaxMetadataValueLen+1)},
		{"": "v"},
	}
	for i, m := range bad {
		c, err := customer.New("cus", customer.Params{Metadata: m}, t0)
		requireFieldErr(t, err, "metadata", customer.ErrInvalidMeta, "case %d", i)
		require.Equal(t, customer.Customer{}, c)
		requireFieldErr(t, customer.ValidateMetadata(m), "metadata", customer.ErrInvalidMeta, "case %d", i)
	}
}

// Metadata is stored as JSON: invalid UTF-8 would silently become U+FFFD on
// the way through a store, so it must be rejected like it is in the other
// string fields.
func TestMetadataRejectsInvalidUTF8(t *testing.T) {
	for _, m := range []map[string]string{{"k": "\xff"}, {"\xfe": "v"}} {
		err := customer.ValidateMetadata(m)
		require.ErrorIs(t, err, customer.ErrInvalidMeta, "%q", m)
	}
}

func TestFieldLengthLimits(t *testing.T) {
	const limit = 500
	emailOf := func(n int) string { return strings.Repeat("a", n-len("@example.com")) + "@example.com" }
	fields := []struct {
		name string
		set  func(p *customer.Params, v string)
		val  func(n int) string
	}{
		{"name", func(p *customer.Params, v string) { p.Name = &v }, nil},
		{"email", func(p *customer.Params, v string) { p.Email = &v }, emailOf},
		{"phone_number", func(p *customer.Params, v string) { p.Phone = &v }, nil},
		{"description", func(p *customer.Params, v string) { p.Description = &v }, nil},
		{"did", func(p *customer.Params, v string) { p.DID = &v }, nil},
		{"invoice_prefix", func(p *customer.Params, v string) { p.InvoicePrefix = &v }, nil},
	}
	for _, f := range fields {
		gen := f.val
		if gen == nil {
			gen = func(n int) string { return strings.Repeat("ü", n) } // multi-byte: the limit is in characters
		}
		var p customer.Params
		f.set(&p, gen(limit))
		_, err := customer.New("cus", p, t0)
		require.NoError(t, err, "%s at exactly %d characters", f.name, limit)

		p = customer.Params{}
		f.set(&p, gen(limit+1))
		_, err = customer.New("cus", p, t0)
		requireFieldErr(t, err, f.name, customer.ErrTooLong, "%s at %d characters", f.name, limit+1)

		p = customer.Params{}
		f.set(&p, "ok\xffnot utf-8@example.com")
		_, err = customer.New("cus", p, t0)
		require.ErrorIs(t, err, customer.ErrInvalid, "%s with invalid UTF-8", f.name)
	}
}

// Address and shipping text ends up in the same stores, invoices and JSON as
// the top-level fields; it needs the same length and UTF-8 limits.
func TestAddressFieldLimits(t *testing.T) {
	long := strings.Repeat("x", 501)
	for i, p := range []customer.Params{
		{Address: &customer.Address{Line1: long}},
		{Address: &customer.Address{Line2: long}},
		{Address: &customer.Address{City: long}},
		{Address: &customer.Address{State: long}},
		{Address: &customer.Address{PostalCode: long}},
		{Address: &customer.Address{City: "\xff"}},
		{Shipping: &customer.Shipping{Name: long}},
		{Shipping: &customer.Shipping{Phone: long}},
		{Shipping: &customer.Shipping{Address: customer.Address{Line1: long}}},
	} {
		_, err := customer.New("cus", p, t0)
		require.ErrorIs(t, err, customer.ErrInvalid, "case %d", i)
	}
}

func TestApplyPartialUpdate(t *testing.T) {
	orig, err := customer.New("cus_1", fullParams(), t0)
	require.NoError(t, err)
	origJSON, err := json.Marshal(orig)
	require.NoError(t, err)

	up, err := orig.Apply(customer.Params{Name: str("Ada King")}, t1)
	require.NoError(t, err)
	require.Equal(t, "Ada King", up.Name)
	require.Equal(t, t1, up.UpdatedAt, "updated_at moves")
	require.Equal(t, t0, up.CreatedAt, "created_at stays")

	// Everything else is unchanged.
	want := orig
	want.Name = "Ada King"
	want.UpdatedAt = t1
	require.Equal(t, want, up)

	// The receiver is not modified.
	afterJSON, err := json.Marshal(orig)
	require.NoError(t, err)
	require.JSONEq(t, string(origJSON), string(afterJSON))
}

func TestApplyEmptyParamsOnlyMovesUpdatedAt(t *testing.T) {
	orig, err := customer.New("cus_1", fullParams(), t0)
	require.NoError(t, err)
	up, err := orig.Apply(customer.Params{}, t1)
	require.NoError(t, err)
	want := orig
	want.UpdatedAt = t1
	require.Equal(t, want, up)
}

func TestApplyClearsAndReplaces(t *testing.T) {
	orig, err := customer.New("cus_1", fullParams(), t0)
	require.NoError(t, err)
	up, err := orig.Apply(customer.Params{
		Email:   str(""),
		Address: &customer.Address{City: "Oslo", Country: "no"},
	}, t1)
	require.NoError(t, err)
	require.Empty(t, up.Email, "an explicit empty string clears the field")
	want := *orig.Address
	want.City, want.Country = "Oslo", "NO"
	require.Equal(t, &want, up.Address, "address fields are merged one by one")
	require.Equal(t, orig.Shipping, up.Shipping)
	require.Equal(t, "London", orig.Address.City, "receiver untouched")
}

func TestApplyInvalidKeepsNothing(t *testing.T) {
	orig, err := customer.New("cus_1", fullParams(), t0)
	require.NoError(t, err)
	up, err := orig.Apply(customer.Params{Name: str("New"), Email: str("broken")}, t1)
	requireFieldErr(t, err, "email", customer.ErrInvalidEmail)
	require.Equal(t, customer.Customer{}, up)
	require.Equal(t, "Ada Lovelace", orig.Name)
	require.Equal(t, t0, orig.UpdatedAt)
}

func TestApplyMetadataMerge(t *testing.T) {
	orig, err := customer.New("cus_1", customer.Params{Metadata: map[string]string{"a": "1", "b": "2", "c": "3"}}, t0)
	require.NoError(t, err)

	up, err := orig.Apply(customer.Params{Metadata: map[string]string{"b": "20", "c": "", "d": "4", "missing": ""}}, t1)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "20", "d": "4"}, up.Metadata)
	require.Equal(t, map[string]string{"a": "1", "b": "2", "c": "3"}, orig.Metadata, "receiver's map untouched")

	// Omitted metadata leaves it alone; an empty map is a no-op merge.
	same, err := up.Apply(customer.Params{Name: str("x")}, t1)
	require.NoError(t, err)
	require.Equal(t, up.Metadata, same.Metadata)
	same, err = up.Apply(customer.Params{Metadata: map[string]string{}}, t1)
	require.NoError(t, err)
	require.Equal(t, up.Metadata, same.Metadata)

	// Deleting every key leaves no metadata.
	none, err := up.Apply(customer.Params{Metadata: map[string]string{"a": "", "b": "", "d": ""}}, t1)
	require.NoError(t, err)
	require.Nil(t, none.Metadata)
}

func TestApplyMetadataLimitAppliesToMergedMap(t *testing.T) {
	full, err := customer.New("cus", customer.Params{Metadata: meta(customer.MaxMetadataKeys)}, t0)
	require.NoError(t, err)

	_, err = full.Apply(customer.Params{Metadata: map[string]string{"extra": "1"}}, t1)
	requireFieldErr(t, err, "metadata", customer.ErrInvalidMeta)

	// Deleting one key makes room for another in the same update.
	up, err := full.Apply(customer.Params{Metadata: map[string]string{"k00": "", "extra": "1"}}, t1)
	require.NoError(t, err)
	require.Len(t, up.Metadata, customer.MaxMetadataKeys)
	require.Equal(t, "1", up.Metadata["extra"])
	require.NotContains(t, up.Metadata, "k00")
}

func TestFieldError(t *testing.T) {
	fe := &customer.FieldError{Field: "email", Err: customer.ErrInvalidEmail}
	require.Equal(t, "email: "+customer.ErrInvalidEmail.Error(), fe.Error())
	require.ErrorIs(t, fe, customer.ErrInvalidEmail)
	require.ErrorIs(t, fe, customer.ErrInvalid)
	require.NotErrorIs(t, fe, customer.ErrInvalidCountry)

	wrapped := fmt.Errorf("create: %w", fe)
	var got *customer.FieldError
	require.True(t, errors.As(wrapped, &got))
	require.Equal(t, "email", got.Field)
}

func TestSentinels(t *testing.T) {
	for _, e := range []error{customer.ErrInvalidEmail, customer.ErrInvalidCountry, customer.ErrInvalidMeta, customer.ErrTooLong} {
		require.ErrorIs(t, e, customer.ErrInvalid, "%v", e)
	}
	// Not-found and duplicate are other classes (404, 409), not validation.
	require.NotErrorIs(t, customer.ErrNotFound, customer.ErrInvalid)
	require.NotErrorIs(t, customer.ErrDuplicateDID, customer.ErrInvalid)
}

func TestMatches(t *testing.T) {
	c := customer.Customer{
		ID: "cus_ABC123", Name: "Ada Lovelace", Email: "Ada@Example.com",
		Phone: "+44 20 7946 0000", Description: "Analytical Engine VIP",
		DID: "did:example:secret", InvoicePrefix: "PREFIX",
		Address: &customer.Address{City: "London"}, Metadata: map[string]string{"plan": "gold"},
	}
	tests := []struct {
		q    string
		want bool
	}{
		{"ada", true},
		{"ADA", true},
		{"lovelace", true},
		{"ada lovelace", true},
		{"  lovelace   ada  ", true},   // any order, any spacing
		{"example.com", true},          // email
		{"ada@example.com", true},      // email, case-insensitive
		{"7946", true},                 // phone
		{"+44", true},                  // phone
		{"cus_abc123", true},           // id, case-insensitive
		{"abc", true},                  // id word prefix
		{"123", false},                 // a word prefix, not a substring (issue 13)
		{"velace", false},              // likewise
		{"44 7946", true},              // phone groups
		{"442079460000", true},         // phone digits run together
		{"engine vip", true},           // description
		{"ada engine 7946 cus_", true}, // terms spread over fields
		{"ada babbage", false},         // every term must match
		{"london", false},              // address is not searched
		{"gold", false},                // metadata is not searched
		{"secret", false},              // did is not searched
		{"prefix", false},              // invoice prefix is not searched
		{"", false},                    // empty query matches nothing
		{"   ", false},
		{"lovelaceada@example", false}, // terms do not span field boundaries
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, customer.Matches(c, tt.q), "Matches(%q)", tt.q)
	}

	unicode := customer.Customer{ID: "cus_2", Name: "Ünal Çelik", Description: "ÉCOLE"}
	require.True(t, customer.Matches(unicode, "ünal"))
	require.True(t, customer.Matches(unicode, "ÇELIK école"))
	require.True(t, customer.Matches(unicode, "ÉCOLE"))
	require.False(t, customer.Matches(unicode, "ecole"), "no accent folding")
}

func TestJSONFieldNames(t *testing.T) {
	c, err := customer.New("cus_1", customer.Params{Phone: str("1"), Email: str("a@b.co")}, t0)
	require.NoError(t, err)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"id", "email", "phone_number", "created_at", "updated_at", "delinquent", "livemode"} {
		require.Contains(t, m, k)
	}
	var back customer.Customer
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, c, back)
}
