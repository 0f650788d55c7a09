package customer_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
)

// TestFoldIsEqualFold: Fold(a) == Fold(b) exactly when strings.EqualFold
// holds, for every character: each SimpleFold orbit folds to one member of
// itself. Memory compared emails with strings.EqualFold while bbolt and
// PostgreSQL compared strings.ToLower, so "ſam@example.com" matched
// "SAM@example.com" on memory only.
func TestFoldIsEqualFold(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		f := customer.Fold(string(r))
		if !strings.EqualFold(f, string(r)) || utf8.RuneCountInString(f) != 1 {
			t.Fatalf("Fold(%U) = %q leaves its class", r, f)
		}
		for o := unicode.SimpleFold(r); o != r; o = unicode.SimpleFold(o) {
			if g := customer.Fold(string(o)); g != f {
				t.Fatalf("Fold(%U) = %q but Fold(%U) = %q", r, f, o, g)
			}
		}
	}
	require.Equal(t, customer.Fold("SAM@example.com"), customer.Fold("ſam@example.com"))
	require.Equal(t, "sam@example.com", customer.Fold("SAM@Example.COM"))
	require.NotEqual(t, customer.Fold("i"), customer.Fold("İ"))
	require.Equal(t, customer.Fold("ΣΊΣΥΦΟΣ"), customer.Fold("σίσυφος"))
}

func TestParseSearchBounds(t *testing.T) {
	ok := []string{"ada", strings.Repeat("a", customer.MaxSearchLen),
		strings.TrimSpace(strings.Repeat("ab ", customer.MaxSearchTerms)), "tab\tseparated\nterms"}
	for _, q := range ok {
		_, err := customer.ParseSearch(q)
		require.NoError(t, err, "%q", q)
	}
	bad := []string{"", "   ", strings.Repeat("a", customer.MaxSearchLen+1),
		strings.TrimSpace(strings.Repeat("ab ", customer.MaxSearchTerms+1)), "a\xffb",
		"ann\x01example", "a\x00", "bell\x7f", "x\u0085y\u0080"}
	for _, q := range bad {
		_, err := customer.ParseSearch(q)
		require.ErrorIs(t, err, customer.ErrInvalidSearch, "%q", q)
		require.ErrorIs(t, err, customer.ErrInvalid, "%q", q)
		var fe *customer.FieldError
		require.True(t, errors.As(err, &fe), "%q", q)
		require.Equal(t, "search", fe.Field)
		require.Less(t, len(err.Error()), 200)
	}
	// A 1 MB query is refused at once, before it is split: a handful of
	// allocations, not one per term (a wall-clock bound here was flaky
	// under -race on a loaded machine).
	big := strings.Repeat("a ", 1<<19)
	_, err := customer.ParseSearch(big)
	require.ErrorIs(t, err, customer.ErrInvalidSearch)
	allocs := testing.AllocsPerRun(5, func() { _, _ = customer.ParseSearch(big) })
	require.Less(t, allocs, 20.0, "the refusal must not split the query")
}

// TestSearchFieldsApart: a term never matches across two fields, whatever
// byte a store joins them with (PostgreSQL joined them with U+0001 and
// matched "ann\x01ann@" across the name and the email).
func TestSearchFieldsApart(t *testing.T) {
	c := customer.Customer{ID: "cus_1", Name: "Ann", Email: "ann@example.com"}
	require.False(t, customer.Matches(c, "ann\x01ann@"))
	require.False(t, customer.Matches(c, "ann\x00ann@"))
	require.False(t, customer.Matches(c, "annann@"))
	s, err := customer.ParseSearch("ANN EXAMPLE")
	require.NoError(t, err)
	require.Equal(t, []string{"ann", "example"}, s.Terms())
	require.True(t, s.Matches(c))
	require.True(t, s.MatchesTokens(customer.Tokens(c)))
	require.False(t, customer.Search{}.Matches(c))
	require.True(t, customer.Search{}.IsZero())
	// Folding is Fold's: the long s matches S.
	require.True(t, customer.Matches(customer.Customer{Name: "SAM"}, "ſam"))
}

// TestTokens pins what a search looks in (word-prefix search, issue 13).
func TestTokens(t *testing.T) {
	c := customer.Customer{ID: "cus_AB12", Name: "Anna-Bell  O'Neil", Email: "Anna.Bell@Example.COM",
		Phone: "+1 (555) 123-4567", Description: "École, VIP."}
	require.Equal(t, []string{
		"1", "123", "123-4567", "15551234567", "4567", "555",
		"ab12", "anna", "anna-bell", "anna.bell", "anna.bell@example.com", "bell",
		"com", "cus", "cus_ab12", "example", "example.com", "neil", "o", "o'neil", "vip", "école",
	}, customer.Tokens(c))
	for q, want := range map[string]bool{
		"anna": true, "ANNA-B": true, "bel": true, "o'ne": true, "neil": true,
		"anna.bell@EXAMPLE.com": true, "@example.com": true, "example.co": true, "com": true,
		"5551234": false, "155512": true, "(555)": true, "123-45": true, "4567": true,
		"ÉCOLE": true, "école": true, "ecole": false, "vip.": true,
		"cus_ab": true, "ab1": true, "b12": false, "ell": false, "nna": false, // prefixes, not substrings
		"anna vip": true, "anna zed": false, "bell@example": false,
	} {
		require.Equal(t, want, customer.Matches(c, q), "Matches(%q)", q)
	}
	// Decomposed letters stay one word: a combining mark is a word character.
	require.Equal(t, []string{"e\u0301cole"}, customer.Tokens(customer.Customer{Name: "E\u0301cole"}))
	// A long unbroken run is cut to MaxTokenLen bytes, on a character
	// boundary; no term can be longer, so no answer changes.
	long := strings.Repeat("é", customer.MaxTokenLen)
	toks := customer.Tokens(customer.Customer{Name: long})
	require.Equal(t, []string{long[:customer.MaxTokenLen]}, toks)
	require.True(t, customer.Matches(customer.Customer{Name: long}, long[:customer.MaxSearchLen]))
	// Terms are trimmed of punctuation at their ends; a term of
	// punctuation only is dropped, and a query of nothing else refused.
	s, err := customer.ParseSearch("(Anna), @ -- ANNA")
	require.NoError(t, err)
	require.Equal(t, []string{"anna"}, s.Terms())
	_, err = customer.ParseSearch("@ --")
	require.ErrorIs(t, err, customer.ErrInvalidSearch)
}

// TestAddressStoredNormalized: the country was validated trimmed and
// upper-cased but stored only upper-cased; every line is now stored as it
// was validated.
func TestAddressStoredNormalized(t *testing.T) {
	c, err := customer.New("cus_1", customer.Params{
		Address: &customer.Address{Line1: " 1 Main St ", City: " Springfield\t", Country: " us "},
		Shipping: &customer.Shipping{Name: " Ann ", Phone: " +1 555 ",
			Address: customer.Address{PostalCode: " 12345 ", Country: "gb "}},
	}, t0)
	require.NoError(t, err)
	require.Equal(t, customer.Address{Line1: "1 Main St", City: "Springfield", Country: "US"}, *c.Address)
	require.Equal(t, customer.Shipping{Name: "Ann", Phone: "+1 555",
		Address: customer.Address{PostalCode: "12345", Country: "GB"}}, *c.Shipping)
	// Only ASCII letters are upper-cased: "uſ" is no country.
	_, err = customer.New("cus_2", customer.Params{Address: &customer.Address{Country: "uſ"}}, t0)
	require.ErrorIs(t, err, customer.ErrInvalidCountry)
	require.Equal(t, customer.Address{Country: "US"}, customer.NormalizeAddress(customer.Address{Country: "\tus\n"}))
}

// TestErrorsDoNotEchoMegabytes: a 1 MiB metadata key or country made a
// 1 MiB error message.
func TestErrorsDoNotEchoMegabytes(t *testing.T) {
	huge := strings.Repeat("k", 1<<20)
	for name, p := range map[string]customer.Params{
		"metadata key":       {Metadata: map[string]string{huge: "v"}},
		"metadata value key": {Metadata: map[string]string{huge[:30] + "\x00": huge}},
		"country":            {Address: &customer.Address{Country: huge}},
		"shipping country":   {Shipping: &customer.Shipping{Address: customer.Address{Country: huge}}},
		"email":              {Email: new(huge)},
		"name":               {Name: new(huge)},
	} {
		_, err := customer.New("cus_1", p, t0)
		require.ErrorIs(t, err, customer.ErrInvalid, name)
		require.Less(t, len(err.Error()), 300, "%s: %.100s", name, err.Error())
	}
}
