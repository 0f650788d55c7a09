package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/bolt"
)

// recordSizes are the encoded sizes of the records one operation writes in
// coffer's bolt file, measured by probeSizes, so the raw baseline puts the
// same bytes.
type recordSizes struct {
	// entry path
	entry, balance, entryEvent int
	// charge path
	payment, chargeEvent, subscription int
	// invoice is the record a charge's invoice writes (numbered in the
	// pending payment's transaction).
	invoice int
}

// bboltOptions are the options the coffer bolt adapter opens its file with
// (bolt.Open's defaults): fsync on every commit, the freelist written with
// each commit (so that Open reads one page, not the whole file).
func bboltOptions() *bbolt.Options {
	return &bbolt.Options{Timeout: 5 * time.Second, NoFreelistSync: false, FreelistType: bbolt.FreelistMapType, NoStatistics: true}
}

// probeSizes runs a few operations of each path through coffer on a bolt
// file, then reads the file with bbolt to measure what was written. The
// bucket names are those of store/bolt's layout (version 2).
func probeSizes(ctx context.Context, dir string) (map[string]recordSizes, error) {
	out := map[string]recordSizes{}
	var sz recordSizes
	for _, path := range []string{pathEntry, pathCharge} {
		file := filepath.Join(dir, "probe-"+path+".db")
		st, err := bolt.Open(file)
		if err != nil {
			return nil, err
		}
		eng, err := coffer.New(st, coffer.WithProcessor(processor.NewTest(nil)))
		if err != nil {
			st.Close()
			return nil, err
		}
		cc := &cofferContender{path: path, eng: eng, st: st}
		if cc.ids, cc.custs, err = seed(ctx, st, path, 1); err != nil {
			st.Close()
			return nil, err
		}
		for range 10 {
			if err := cc.op(ctx); err != nil {
				st.Close()
				return nil, err
			}
		}
		if err := st.Close(); err != nil {
			return nil, err
		}
		db, err := bbolt.Open(file, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		err = db.View(func(tx *bbolt.Tx) error {
			var err error
			if path == pathEntry {
				if sz.entry, err = meanValue(tx, "entries"); err != nil {
					return err
				}
				if sz.entryEvent, err = meanValue(tx, "events"); err != nil {
					return err
				}
				sz.balance, err = balanceSize(tx)
				return err
			}
			if sz.payment, err = meanValue(tx, "payments"); err != nil {
				return err
			}
			if sz.chargeEvent, err = meanValue(tx, "events"); err != nil {
				return err
			}
			if sz.subscription, err = meanValue(tx, "subscriptions"); err != nil {
				return err
			}
			sz.invoice, err = invoiceSize(tx)
			return err
		})
		db.Close()
		os.Remove(file)
		if err != nil {
			return nil, err
		}
	}
	out[pathEntry], out[pathCharge] = sz, sz
	return out, nil
}

// invoiceSize is the mean size of the invoice records of store/bolt's
// invoices bucket (its "r" keys; the "i" and "p" keys are its indexes).
func invoiceSize(tx *bbolt.Tx) (int, error) {
	b := tx.Bucket([]byte("invoices"))
	if b == nil {
		return 0, errors.New("bolt layout: no bucket \"invoices\"")
	}
	n, total := 0, 0
	_ = b.ForEach(func(k, v []byte) error {
		if len(k) > 0 && k[0] == 'r' {
			n++
			total += len(v)
		}
		return nil
	})
	if n == 0 {
		return 0, errors.New("bolt layout: no invoice records")
	}
	return total / n, nil
}

func meanValue(tx *bbolt.Tx, bucket string) (int, error) {
	b := tx.Bucket([]byte(bucket))
	if b == nil {
		return 0, fmt.Errorf("bolt layout: no bucket %q", bucket)
	}
	n, total := 0, 0
	_ = b.ForEach(func(_, v []byte) error { n++; total += len(v); return nil })
	if n == 0 {
		return 0, fmt.Errorf("bolt layout: bucket %q is empty", bucket)
	}
	return (total + n/2) / n, nil
}

// balanceSize finds a USD balance in the wallets bucket: key
// uvarint(len(customer)) customer 0x02 currency.
func balanceSize(tx *bbolt.Tx) (int, error) {
	b := tx.Bucket([]byte("wallets"))
	if b == nil {
		return 0, errors.New("bolt layout: no wallets bucket")
	}
	size := 0
	_ = b.ForEach(func(k, v []byte) error {
		n, w := binary.Uvarint(k)
		if w <= 0 || len(k) < w+int(n)+1 {
			return nil
		}
		if rest := k[w+int(n):]; rest[0] == 2 && strings.HasSuffix(string(rest), "USD") {
			size = len(v)
		}
		return nil
	})
	if size == 0 {
		return 0, errors.New("bolt layout: no USD balance found")
	}
	return size, nil
}

var (
	rawEntries  = []byte("entries")
	rawBalances = []byte("balances")
	rawEvents   = []byte("events")
	rawPayments = []byte("payments")
	rawSubs     = []byte("subscriptions")
	rawInvoices = []byte("invoices")
)

// rawBolt is the substrate baseline: plain bbolt puts of the same records.
type rawBolt struct {
	path  string
	db    *bbolt.DB
	file  string
	sz    recordSizes
	custs [][]byte
	subs  [][]byte
	proc  *processor.Test
	batch bool
}

func newRawBolt(c cell, dir string, sz recordSizes) (*rawBolt, error) {
	if sz == (recordSizes{}) {
		return nil, errors.New("record sizes unknown")
	}
	file := filepath.Join(dir, fmt.Sprintf("raw-%d.db", cellSeq.Add(1)))
	db, err := bbolt.Open(file, 0o600, bboltOptions())
	if err != nil {
		return nil, err
	}
	db.MaxBatchSize, db.MaxBatchDelay = bolt.DefaultMaxBatchSize, bolt.DefaultMaxBatchDelay
	rb := &rawBolt{path: c.path, db: db, file: file, sz: sz, proc: processor.NewTest(nil),
		// A lone writer commits at once, as in the coffer adapter;
		// concurrent writers share commits through DB.Batch (the adapter
		// through its committer goroutine, bolt.WithGroupCommit).
		batch: c.writers > 1}
	for range c.wallets {
		rb.custs = append(rb.custs, []byte(newID("cus")))
		rb.subs = append(rb.subs, []byte(newID("sub")))
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{rawEntries, rawBalances, rawEvents, rawPayments, rawSubs, rawInvoices} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		for i := range rb.custs {
			if err := tx.Bucket(rawBalances).Put(rb.custs[i], make([]byte, sz.balance)); err != nil {
				return err
			}
			if err := tx.Bucket(rawSubs).Put(rb.subs[i], make([]byte, sz.subscription)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		rb.close()
		return nil, err
	}
	return rb, nil
}

func (rb *rawBolt) commit(fn func(*bbolt.Tx) error) error {
	if rb.batch {
		return rb.db.Batch(fn)
	}
	return rb.db.Update(fn)
}

func (rb *rawBolt) op(ctx context.Context) error {
	w := pick(len(rb.custs))
	cus, sub := rb.custs[w], rb.subs[w]
	if rb.path == pathEntry {
		entryKey, eventKey := []byte(newID("le")), []byte(newID("evt"))
		return rb.commit(func(tx *bbolt.Tx) error {
			bal := tx.Bucket(rawBalances)
			if bal.Get(cus) == nil {
				return errors.New("raw bolt: balance missing")
			}
			if err := tx.Bucket(rawEntries).Put(entryKey, make([]byte, rb.sz.entry)); err != nil {
				return err
			}
			if err := bal.Put(cus, make([]byte, rb.sz.balance)); err != nil {
				return err
			}
			return tx.Bucket(rawEvents).Put(eventKey, make([]byte, rb.sz.entryEvent))
		})
	}
	payKey, eventKey := []byte(newID("pay")), []byte(newID("evt"))
	err := rb.commit(func(tx *bbolt.Tx) error {
		if tx.Bucket(rawSubs).Get(sub) == nil || tx.Bucket(rawBalances).Get(cus) == nil {
			return errors.New("raw bolt: subscription or balance missing")
		}
		if err := tx.Bucket(rawPayments).Put(payKey, make([]byte, rb.sz.payment)); err != nil {
			return err
		}
		// The invoice: the customer's counter bumped and the record put
		// under customer + number, in the payment's transaction.
		inv := tx.Bucket(rawInvoices)
		var seq uint64
		if v := inv.Get(cus); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		seq++
		if err := inv.Put(cus, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return err
		}
		return inv.Put(binary.BigEndian.AppendUint64(append(append([]byte(nil), cus...), 0), seq), make([]byte, rb.sz.invoice))
	})
	if err != nil {
		return err
	}
	ch, err := rb.proc.Charge(ctx, processor.ChargeRequest{IdempotencyKey: string(payKey), MandateID: "mdt_bench",
		PaymentMethod: processor.CardOK, Amount: chargeAmount, Currency: "USD", Description: "bench"})
	if err != nil {
		return err
	}
	if ch.Status != processor.ChargeSucceeded {
		return fmt.Errorf("raw bolt: charge %s", ch.Status)
	}
	return rb.commit(func(tx *bbolt.Tx) error {
		pays := tx.Bucket(rawPayments)
		if pays.Get(payKey) == nil {
			return errors.New("raw bolt: payment missing")
		}
		if err := pays.Put(payKey, make([]byte, rb.sz.payment)); err != nil {
			return err
		}
		if err := tx.Bucket(rawEvents).Put(eventKey, make([]byte, rb.sz.chargeEvent)); err != nil {
			return err
		}
		return tx.Bucket(rawSubs).Put(sub, make([]byte, rb.sz.subscription))
	})
}

func (rb *rawBolt) close() error {
	err := rb.db.Close()
	os.Remove(rb.file)
	return err
}
