package bolt

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// syncedFreelist reads the newer meta page of a closed bbolt file and says
// whether it points at a freelist page (not bbolt's "no freelist" mark).
func syncedFreelist(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.LittleEndian.Uint32(b[16+8:]))
	var best, txid uint64
	for i := range 2 {
		m := b[i*pageSize+16:]
		if tx := binary.LittleEndian.Uint64(m[48:]); i == 0 || tx > txid {
			txid, best = tx, binary.LittleEndian.Uint64(m[32:])
		}
	}
	return best != ^uint64(0)
}

// A file written with the freelist unsynced (every file before
// WithFreelistSync) opens with the default: bbolt rebuilds the freelist once
// and writes it, and the data is intact.
func TestFreelistSyncUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	ctx := context.Background()
	put := func(s *Store, id string) {
		if err := s.Update(ctx, func(tx store.Tx) error {
			return tx.PutBalance(wallet.Balance{CustomerID: id, Currency: "USD", Amount: 7})
		}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(path, WithFreelistSync(false))
	if err != nil {
		t.Fatal(err)
	}
	put(s, "cus_old")
	s.Close()
	if syncedFreelist(t, path) {
		t.Fatal("WithFreelistSync(false) wrote a freelist")
	}
	for range 2 {
		s, err = Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if !syncedFreelist(t, path) {
			t.Fatal("the first open with the default did not write the freelist")
		}
		put(s, "cus_new")
		err = s.View(ctx, func(tx store.Tx) error {
			b, err := tx.Balance("cus_old", "USD")
			if err == nil && b.Amount != 7 {
				t.Errorf("balance %d", b.Amount)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if !syncedFreelist(t, path) {
			t.Fatal("freelist not kept")
		}
	}
}
