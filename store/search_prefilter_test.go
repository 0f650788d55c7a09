package store

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
)

// TestPrefilterIsNecessary: whenever the prefilter rejects a customer (on
// its fields or on its JSON encoding), Matches rejects it too; and it does
// reject most non-matching ASCII customers.
func TestPrefilterIsNecessary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "B", "c", "K", "s", "S", "ſ", "\u212a", "é", "1", "2", "5", " ", ".", "@", "-", "+", "(", ")", "<", "&", "é"}
	word := func(n int) string {
		var b strings.Builder
		for range rng.IntN(n) + 1 {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	queries := []string{"grace hopper", "15551234567", "+1555", "ks", "sam", "ſam", "k", "a.b@c", "zoë", "1 2", "ab 5", "b&c", "c<a"}
	for range 300 {
		queries = append(queries, word(4))
	}
	rejected, nonMatching := 0, 0
	for range 3000 {
		c := customer.Customer{ID: "cus_" + word(6), Name: word(10), Email: word(8) + "@" + word(5), Phone: word(8), Description: word(6)}
		raw, err := json.Marshal(c)
		require.NoError(t, err)
		for _, q := range queries[:20+rng.IntN(len(queries)-20)] {
			sq, err := customer.ParseSearch(q)
			if err != nil {
				continue
			}
			p := NewPrefilter(sq)
			m := sq.Matches(c)
			if p.SkipCustomer(c) {
				require.False(t, m, "SkipCustomer rejected a match: %q %+v", q, c)
				rejected++
			}
			if p.SkipRaw(raw) {
				require.False(t, m, "SkipRaw rejected a match: %q %s", q, raw)
			}
			if !m {
				nonMatching++
			}
		}
	}
	require.Positive(t, rejected)
	// The ASCII fixture of the benchmarks: almost every non-match rejected.
	sq, _ := customer.ParseSearch("grace hopper")
	p := NewPrefilter(sq)
	c := customer.Customer{ID: "cus_bench00000003", Name: "Edsger Turing", Email: "edsger.turing.3@example.com", Phone: "+15550000003"}
	raw, _ := json.Marshal(c)
	require.True(t, p.SkipCustomer(c))
	require.True(t, p.SkipRaw(raw))
	c.Name, c.Email = "Grace Hopper", "grace.hopper.3@example.com"
	raw, _ = json.Marshal(c)
	require.False(t, p.SkipCustomer(c))
	require.False(t, p.SkipRaw(raw))
}
