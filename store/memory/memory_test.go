package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/cofferhq/coffer/ledger"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memory.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// FindEntryByKey (store.EntryKeyFinder) answers as EntryByKey does, a miss
// as found == false.
func TestFindEntryByKeyMatchesEntryByKey(t *testing.T) {
	s := memory.New()
	e := ledger.Entry{ID: "le_1", CustomerID: "cus_1", Currency: "USD", Type: ledger.Credit, Amount: 5,
		BalanceAfter: 5, IdempotencyKey: "k1", Reference: ledger.Reference{Type: ledger.RefManual}, CreatedAt: time.Now().UTC()}
	err := s.Update(context.Background(), func(tx store.Tx) error { return tx.InsertEntry(e) })
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(context.Background(), func(tx store.Tx) error {
		f := tx.(store.EntryKeyFinder)
		for _, k := range [][2]string{{"cus_1", "k1"}, {"cus_1", "k2"}, {"cus_2", "k1"}, {"cus_1", ""}} {
			want, werr := tx.EntryByKey(k[0], k[1])
			got, found, err := f.FindEntryByKey(k[0], k[1])
			if err != nil || found != (werr == nil) || got != want {
				t.Errorf("%v: FindEntryByKey = %v, %v, %v; EntryByKey = %v, %v", k, got, found, err, want, werr)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
