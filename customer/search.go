package customer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cofferhq/coffer/internal/text"
)

// Fold is the one case folding of coffer: the email filter and customer
// search compare Fold of both sides, on every store. Fold(a) == Fold(b)
// exactly when strings.EqualFold(a, b) (Unicode simple case folding), so
// "ſam@example.com" and "SAM@example.com" fold alike, and "İ" and "i" do
// not. Each character maps to one character of its case-folding class
// (lower case where the class has one), so a substring of Fold(s) is Fold
// of a substring of s. ASCII text folds to its lower case.
//
// Stores that index folded text (the bbolt email index, the PostgreSQL
// email_fold and search_text columns) store Fold computed here, never a
// database's own lower().
func Fold(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune picks one member of r's unicode.SimpleFold orbit: the lower
// case of the smallest member when that is in the orbit (it is not for
// "İ", whose lower case "i" belongs to another orbit), else the smallest.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		min = minRune(min, f)
	}
	if l := unicode.ToLower(min); l != min {
		for f := unicode.SimpleFold(min); f != min; f = unicode.SimpleFold(f) {
			if f == l {
				return l
			}
		}
	}
	return min
}

func minRune(a, b rune) rune {
	if b < a {
		return b
	}
	return a
}

// Search bounds: a query has at most MaxSearchLen bytes and MaxSearchTerms
// terms, so its cost per customer is bounded whatever the caller sends.
const (
	MaxSearchLen   = 256
	MaxSearchTerms = 10
)

// ErrInvalidSearch: an empty, oversized or malformed search query (the 422
// class; the FieldError names "search").
var ErrInvalidSearch = fmt.Errorf("%w: search query", ErrInvalid)

// Search is a parsed free-text customer query: its terms, folded. A
// customer matches when every term occurs (as a substring, after Fold) in
// one of its name, email, phone, id or description. The zero Search
// matches nothing; stores treat it as "no search filter".
type Search struct {
	terms []string
}

// ParseSearch splits q into whitespace-separated terms and folds them. It
// refuses (ErrInvalidSearch, naming "search") a query longer than
// MaxSearchLen bytes, with more than MaxSearchTerms terms or none, in
// invalid UTF-8, or with a control character in a term (whitespace
// controls such as tab and newline separate terms): a term holding the
// byte a store joins the searched fields with could otherwise match across
// two fields on that store only.
func ParseSearch(q string) (Search, error) {
	bad := func(format string, a ...any) (Search, error) {
		return Search{}, &FieldError{Field: "search", Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidSearch}, a...)...)}
	}
	if len(q) > MaxSearchLen {
		return bad("more than %d bytes", MaxSearchLen)
	}
	if !utf8.ValidString(q) {
		return bad("%v", text.ErrNotUTF8)
	}
	terms := strings.Fields(q)
	switch {
	case len(terms) == 0:
		return bad("no search term")
	case len(terms) > MaxSearchTerms:
		return bad("more than %d terms", MaxSearchTerms)
	}
	for i, t := range terms {
		if strings.IndexFunc(t, unicode.IsControl) >= 0 {
			return bad("term %s contains a control character", text.Quote(t))
		}
		terms[i] = Fold(t)
	}
	return Search{terms: terms}, nil
}

// IsZero reports whether s is the zero Search (no query).
func (s Search) IsZero() bool { return len(s.terms) == 0 }

// Terms returns the folded terms, for stores that match in their own query
// language (PostgreSQL: strpos(search_text, term) > 0 for every term).
func (s Search) Terms() []string { return append([]string(nil), s.terms...) }

// Matches reports whether c matches s.
func (s Search) Matches(c Customer) bool { return s.MatchesText(SearchText(c)) }

// MatchesText is Matches on a customer's SearchText, for stores that keep
// it precomputed.
func (s Search) MatchesText(searchText string) bool {
	if len(s.terms) == 0 {
		return false
	}
	for _, t := range s.terms {
		if !strings.Contains(searchText, t) {
			return false
		}
	}
	return true
}

// SearchSep joins the fields of SearchText. No search term holds it (terms
// have no control characters), so no term matches across two fields.
const SearchSep = "\x01"

// SearchText is what a Search looks in: Fold of the name, email, phone, id
// and description, joined by SearchSep. It holds no NUL byte, so
// PostgreSQL can store it as text.
func SearchText(c Customer) string {
	return Fold(c.Name + SearchSep + c.Email + SearchSep + c.Phone + SearchSep + c.ID + SearchSep + c.Description)
}

// Matches reports whether c matches the free-text query (see Search). It
// parses query on every call; to test many customers, ParseSearch once.
func Matches(c Customer, query string) bool {
	s, err := ParseSearch(query)
	return err == nil && s.Matches(c)
}
