package fx

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cofferhq/coffer/money"
)

// StaticSource is the Source name a Static table records on payments.
const StaticSource = "static"

// MaxStaticPairs bounds a Static table.
const MaxStaticPairs = 1024

// Static is a fixed table of rates: only the pairs it lists convert (the
// inverse of a listed pair is not derived: EUR/USD does not give USD/EUR,
// whose rounding the operator should choose), and a currency converts into
// itself at 1. It is safe for concurrent use; it never changes once built.
type Static struct {
	at    time.Time
	rates map[[2]string]decimal.Decimal
}

// NewStatic builds a table from rates keyed "FROM/TO" (ISO-4217 codes,
// any case) with decimal string values, e.g. {"EUR/USD": "1.08"}. at is
// when the rates were fixed, reported as Rate.At (zero: not said). Every
// code must be known to money.Lookup and every value pass CheckRate.
func NewStatic(at time.Time, rates map[string]string) (*Static, error) {
	if len(rates) > MaxStaticPairs {
		return nil, fmt.Errorf("%w: %d pairs (at most %d)", ErrInvalidRate, len(rates), MaxStaticPairs)
	}
	s := &Static{rates: make(map[[2]string]decimal.Decimal, len(rates))}
	if !at.IsZero() {
		s.at = at.UTC()
	}
	// Sorted, so a bad table reports the same pair every time.
	keys := make([]string, 0, len(rates))
	for k := range rates {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		from, to, ok := strings.Cut(k, "/")
		if !ok {
			return nil, fmt.Errorf("%w: pair %q is not FROM/TO", ErrInvalidRate, k)
		}
		f, err := money.Lookup(strings.TrimSpace(from))
		if err != nil {
			return nil, fmt.Errorf("pair %q: %w", k, err)
		}
		t, err := money.Lookup(strings.TrimSpace(to))
		if err != nil {
			return nil, fmt.Errorf("pair %q: %w", k, err)
		}
		if f.Code == t.Code {
			return nil, fmt.Errorf("%w: pair %q converts a currency into itself", ErrInvalidRate, k)
		}
		v, err := decimal.NewFromString(strings.TrimSpace(rates[k]))
		if err != nil {
			return nil, fmt.Errorf("%w: pair %q: %q is not a decimal", ErrInvalidRate, k, rates[k])
		}
		if err := CheckRate(v); err != nil {
			return nil, fmt.Errorf("pair %q: %w", k, err)
		}
		p := [2]string{f.Code, t.Code}
		if _, dup := s.rates[p]; dup {
			return nil, fmt.Errorf("%w: pair %s/%s listed twice", ErrInvalidRate, f.Code, t.Code)
		}
		s.rates[p] = v
	}
	return s, nil
}

// ParseStatic builds a table from a comma-separated list of FROM/TO=RATE
// pairs, the form of `coffer serve -fx-rates` and COFFER_FX_RATES:
// "EUR/USD=1.08,USD/JPY=151.2". An empty spec is an empty table.
func ParseStatic(at time.Time, spec string) (*Static, error) {
	rates := map[string]string{}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		pair, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q is not FROM/TO=RATE", ErrInvalidRate, item)
		}
		f, t, ok := strings.Cut(pair, "/")
		if !ok {
			return nil, fmt.Errorf("%w: %q is not FROM/TO=RATE", ErrInvalidRate, item)
		}
		k := strings.ToUpper(strings.TrimSpace(f)) + "/" + strings.ToUpper(strings.TrimSpace(t))
		if _, dup := rates[k]; dup {
			return nil, fmt.Errorf("%w: pair %s listed twice", ErrInvalidRate, k)
		}
		if len(rates) == MaxStaticPairs {
			return nil, fmt.Errorf("%w: more than %d pairs", ErrInvalidRate, MaxStaticPairs)
		}
		rates[k] = v
	}
	return NewStatic(at, rates)
}

// Rate returns the listed rate from → to (1 for a currency into itself);
// a pair the table does not list is ErrNoRate.
func (s *Static) Rate(_ context.Context, from, to string) (Rate, error) {
	f, err := money.Lookup(from)
	if err != nil {
		return Rate{}, err
	}
	t, err := money.Lookup(to)
	if err != nil {
		return Rate{}, err
	}
	r := Rate{From: f.Code, To: t.Code, Source: StaticSource, At: s.at}
	if f.Code == t.Code {
		r.Value = decimal.NewFromInt(1)
		return r, nil
	}
	v, ok := s.rates[[2]string{f.Code, t.Code}]
	if !ok {
		return Rate{}, fmt.Errorf("%w: %s/%s", ErrNoRate, f.Code, t.Code)
	}
	r.Value = v
	return r, nil
}

// Pairs returns a copy of the table: "FROM/TO" → the rate as a decimal
// string (for display and config dumps).
func (s *Static) Pairs() map[string]string {
	out := make(map[string]string, len(s.rates))
	for p, v := range s.rates {
		out[p[0]+"/"+p[1]] = v.String()
	}
	return out
}
