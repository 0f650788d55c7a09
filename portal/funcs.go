package portal

import (
	"hash/fnv"
	"html/template"
	"strings"
	"time"
	"unicode"

	"github.com/cofferhq/coffer/money"
)

var funcs = template.FuncMap{
	"paid":     paid,
	"money":    amount,
	"utc":      utc,
	"utcTitle": utcTitle,
	"initials": initials,
	"avatar":   avatarClass,
	"has":      func(set map[string]bool, k string) bool { return set[k] },
}

// utc formats t in UTC ("2026-03-02 09:00 UTC"); zero is "—".
func utc(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// utcTitle is the full RFC 3339 instant, for a title attribute.
func utcTitle(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// initials are the first letters of the first two words of name (or "?").
func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				out = append(out, unicode.ToUpper(r))
				break
			}
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// avatarClass picks one of eight avatar colours from id.
func avatarClass(id string) string {
	f := fnv.New32a()
	f.Write([]byte(id))
	return "av" + string(rune('0'+f.Sum32()%8))
}

// amount is money.Format with the currency code: "45.00 USD".
func amount(minor int64, code string) string { return money.Format(minor, code) + " " + code }
