package customer

import (
	"fmt"
	"slices"
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

// Search is a parsed free-text customer query: its terms, folded and
// trimmed. A customer matches when every term is a prefix of one of its
// search tokens (see Tokens): word-prefix search, not substring search.
// The zero Search matches nothing; stores treat it as "no search filter".
type Search struct {
	terms []string
}

// ParseSearch splits q into whitespace-separated terms, folds them
// (Fold) and trims from each end of each term what is not a word
// character (see Tokens), so "Anna," is "anna" and "@example.com" is
// "example.com"; a term left empty ("@", "--") is dropped. It refuses
// (ErrInvalidSearch, naming "search") a query longer than MaxSearchLen
// bytes, with more than MaxSearchTerms terms, with no term left, in
// invalid UTF-8, or with a control character in a term (whitespace
// controls such as tab and newline separate terms): control characters
// are refused rather than stripped, so that a query is never silently
// changed into another.
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
	fields := strings.Fields(q)
	if len(fields) > MaxSearchTerms {
		return bad("more than %d terms", MaxSearchTerms)
	}
	var terms []string
	for _, t := range fields {
		if strings.IndexFunc(t, unicode.IsControl) >= 0 {
			return bad("term %s contains a control character", text.Quote(t))
		}
		if t = strings.TrimFunc(Fold(t), notWord); t != "" && !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	}
	if len(terms) == 0 {
		return bad("no search term")
	}
	return Search{terms: terms}, nil
}

// IsZero reports whether s is the zero Search (no query).
func (s Search) IsZero() bool { return len(s.terms) == 0 }

// Terms returns the folded, trimmed terms (without repeats, in query
// order). Each is at most MaxSearchLen bytes.
func (s Search) Terms() []string { return append([]string(nil), s.terms...) }

// Matches reports whether c matches s: every term is a prefix of one of
// Tokens(c). It is the reference every store's index answers exactly.
func (s Search) Matches(c Customer) bool { return s.MatchesTokens(Tokens(c)) }

// MatchesTokens is Matches on a customer's Tokens (sorted), for callers
// that keep them.
func (s Search) MatchesTokens(tokens []string) bool {
	if len(s.terms) == 0 {
		return false
	}
	for _, t := range s.terms {
		// tokens is sorted: the first token >= t is the one that can
		// start with t.
		i, _ := slices.BinarySearch(tokens, t)
		if i == len(tokens) || !strings.HasPrefix(tokens[i], t) {
			return false
		}
	}
	return true
}

// MaxTokenLen is the longest search token, in bytes: a longer token is cut
// to its first whole characters within MaxTokenLen bytes. No term is
// longer (MaxSearchLen), so the cut never changes an answer; it bounds
// the index keys.
const MaxTokenLen = MaxSearchLen

// notWord reports whether r separates words: word characters are letters,
// marks (so a decomposed "é" stays one word) and numbers.
func notWord(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsNumber(r) }

// Tokens returns what a Search looks in, sorted and without repeats: from
// each of the name, email, phone, id and description, after Fold,
//
//   - every word: a maximal run of letters, marks and numbers
//     ("anna.bell@example.com" gives anna, bell, example, com);
//   - every whitespace-separated chunk, trimmed of non-word characters at
//     its ends ("Zed-42" gives zed-42, "+1 (555) 123-4567" gives 1, 555
//     and 123-4567);
//   - for the email, also its local part and domain (around the last
//     "@", trimmed alike): anna.bell and example.com;
//   - for the phone, also all its digits run together: 15551234567;
//
// each cut to MaxTokenLen bytes. The id yields itself (a chunk) and its
// words ("cus", ...). Tokens never span two fields.
func Tokens(c Customer) []string {
	var out []string
	add := func(t string) {
		if t == "" {
			return
		}
		if len(t) > MaxTokenLen {
			n := MaxTokenLen
			for n > 0 && !utf8.RuneStart(t[n]) {
				n--
			}
			t = t[:n]
		}
		out = append(out, t)
	}
	field := func(f string) string {
		f = Fold(f)
		for _, w := range strings.FieldsFunc(f, notWord) {
			add(w)
		}
		for _, ch := range strings.Fields(f) {
			add(strings.TrimFunc(ch, notWord))
		}
		return f
	}
	field(c.Name)
	if e := strings.TrimSpace(field(c.Email)); e != "" {
		if i := strings.LastIndexByte(e, '@'); i >= 0 {
			add(strings.TrimFunc(e[:i], notWord))
			add(strings.TrimFunc(e[i+1:], notWord))
		}
	}
	field(c.Phone)
	var digits []byte
	for _, r := range c.Phone {
		if '0' <= r && r <= '9' {
			digits = append(digits, byte(r))
		}
	}
	add(string(digits))
	field(c.ID)
	field(c.Description)
	slices.Sort(out)
	return slices.Compact(out)
}

// SearchText is Fold of the name, email, phone, id and description,
// joined by SearchSep. Search no longer reads it (it matches Tokens); the
// PostgreSQL store keeps it in a column that its name-prefix indexes read
// (the folded name comes first, followed by SearchSep).
func SearchText(c Customer) string {
	return Fold(c.Name + SearchSep + c.Email + SearchSep + c.Phone + SearchSep + c.ID + SearchSep + c.Description)
}

// SearchSep joins the fields of SearchText.
const SearchSep = "\x01"

// Matches reports whether c matches the free-text query (see Search). It
// parses query on every call; to test many customers, ParseSearch once.
func Matches(c Customer, query string) bool {
	s, err := ParseSearch(query)
	return err == nil && s.Matches(c)
}
