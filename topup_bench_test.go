package coffer

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/topup"
)

// BenchmarkTopUpEntryRatio measures what auto top-up rules cost the ledger
// hot path: Engine.CreateEntry on an engine whose store holds no rule at
// all ("plain") and on one where every other wallet has a threshold rule
// ("rules"), in alternating rounds of one run, posting to wallets without
// a rule and with one alike. It reports each side's entries/s and their
// ratio rules/plain (1.0: no cost; the ledger path reads no rule, the
// worker finds rules through the due index). The rates are the medians of
// the rounds' rates, so a load spike on a shared machine that hits a few
// rounds of one side does not decide the ratio.
//
//	go test -run '^$' -bench BenchmarkTopUpEntryRatio -benchtime 200000x .
func BenchmarkTopUpEntryRatio(b *testing.B) {
	kinds := map[string]func(b *testing.B) store.Store{
		"memory": func(*testing.B) store.Store { return memory.New() },
		"bolt": func(b *testing.B) store.Store {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "coffer.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
	}
	for _, kind := range []string{"memory", "bolt"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			const wallets = 200
			type side struct {
				eng    *Engine
				ids    []string
				dur    time.Duration
				done   int
				rounds []float64 // entries/s of each round
			}
			build := func(rules bool) *side {
				eng, err := New(kinds[kind](b), WithProcessor(processor.NewTest(nil)))
				if err != nil {
					b.Fatal(err)
				}
				s := &side{eng: eng}
				for i := range wallets {
					c, err := eng.CreateCustomer(ctx, customer.Params{Name: new("bench " + strconv.Itoa(i))})
					if err != nil {
						b.Fatal(err)
					}
					s.ids = append(s.ids, c.ID)
					if rules && i%2 == 0 {
						if _, err := eng.CreateTopUp(ctx, c.ID, "USD", TopUpParams{Trigger: topup.TriggerThreshold,
							Threshold: 1, Method: topup.MethodFixed, Amount: 1_00, PaymentMethod: processor.CardOK, MaxPerDay: 1}); err != nil {
							b.Fatal(err)
						}
					}
				}
				return s
			}
			sides := [2]*side{build(false), build(true)}
			const round = 200
			b.ResetTimer()
			for n, r := 0, 0; n < b.N; r++ {
				s := sides[r%2]
				start := time.Now()
				for i := 0; i < round && n < b.N; i, n = i+1, n+1 {
					k := s.done
					s.done++
					if _, err := s.eng.CreateEntry(ctx, s.ids[k%wallets], EntryParams{Amount: 100, Currency: "USD",
						Type: ledger.Credit, Reason: "bench", IdempotencyKey: "k" + strconv.Itoa(k)}); err != nil {
						b.Fatal(err)
					}
				}
				d := time.Since(start)
				s.dur += d
				s.rounds = append(s.rounds, round/d.Seconds())
			}
			b.StopTimer()
			rate := func(s *side) float64 {
				if len(s.rounds) == 0 {
					return 0
				}
				slices.Sort(s.rounds)
				return s.rounds[len(s.rounds)/2]
			}
			b.ReportMetric(rate(sides[0]), "plain_entries/s")
			b.ReportMetric(rate(sides[1]), "rules_entries/s")
			b.ReportMetric(rate(sides[1])/rate(sides[0]), "rules/plain")
		})
	}
}
