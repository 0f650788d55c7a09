package bolt

import (
	"bytes"
	"fmt"
	"math"

	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// The customer search index (issue 13): the bucket customers.search holds
// one key per token of customer.Tokens, token bytes + seq (8 bytes), so the
// customers whose tokens start with a term are one key range. The keys are
// ordinary list keys of the customer (customerKeys), so insert and update
// keep them with the customer's other indexes, in its transaction. A file
// written before the index existed (or with an older tokenization) gets it
// built once when it is opened: the meta key keySearchDone records the
// tokenization the bucket was built with.

var (
	bCustomerSearch = []byte("customers.search")
	keySearchDone   = []byte("search.v1") // in meta: customers.search is complete
)

func searchKeys(c customer.Customer, seq uint64) []ikey {
	toks := customer.Tokens(c)
	ks := make([]ikey, len(toks))
	for i, t := range toks {
		ks[i] = ikey{bucket: bCustomerSearch, key: appendSeq([]byte(t), seq)}
	}
	return ks
}

// backfillSearch builds customers.search for a file that lacks it.
func backfillSearch(btx *bbolt.Tx) error {
	meta := btx.Bucket(bMeta)
	if meta.Get(keySearchDone) != nil && btx.Bucket(bCustomerSearch) != nil {
		return nil
	}
	if btx.Bucket(bCustomerSearch) != nil {
		if err := btx.DeleteBucket(bCustomerSearch); err != nil {
			return fmt.Errorf("bolt: rebuild %s: %w", bCustomerSearch, err)
		}
	}
	b, err := btx.CreateBucket(bCustomerSearch)
	if err != nil {
		return fmt.Errorf("bolt: init bucket %s: %w", bCustomerSearch, err)
	}
	if prim := btx.Bucket(bCustomers); prim != nil {
		err := prim.ForEach(func(k, v []byte) error {
			c, err := decodeCustomer(v)
			if err != nil {
				return err
			}
			for _, ik := range searchKeys(c, seqOfKey(k)) {
				if err := b.Put(ik.key, []byte{}); err != nil {
					return fmt.Errorf("bolt: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return meta.Put(keySearchDone, []byte{1})
}

// boltTokens is the store.TokenIndex of a transaction.
type boltTokens struct{ t *tx }

func (x boltTokens) Entries(prefix string, fn func(uint64) bool) error {
	p := []byte(prefix)
	c := x.t.b(bCustomerSearch).Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		// The token is the key without its sequence; a term holds no
		// control character, so it never reaches into the sequence.
		if len(k)-8 >= len(p) && !fn(seqOfKey(k)) {
			return nil
		}
	}
	return nil
}

func (x boltTokens) Load(seq uint64) (customer.Customer, error) {
	v := x.t.b(kCustomers.primary).Get(seqKey(seq))
	if v == nil {
		return customer.Customer{}, errDangling(kCustomers, seq)
	}
	return decodeCustomer(v)
}

func (boltTokens) Own(c customer.Customer) customer.Customer { return c }

func (x boltTokens) Walk(lo, hi uint64, down bool, pre *store.Prefilter, fn func(uint64, customer.Customer, bool) (bool, error)) error {
	// The primary bucket's keys are the 8-byte sequences; its cursor hands
	// out each value with its key (no Get, no bucket lookup per customer).
	c := x.t.b(kCustomers.primary).Cursor()
	var k, v []byte
	if down {
		k, v = c.Seek(seqKey(hi))
		if k == nil {
			k, v = c.Last()
		}
		for k != nil && seqOfKey(k) >= hi {
			k, v = c.Prev()
		}
	} else {
		k, v = c.Seek(seqKey(lo))
		for k != nil && seqOfKey(k) <= lo {
			k, v = c.Next()
		}
	}
	step := func() {
		if down {
			k, v = c.Prev()
		} else {
			k, v = c.Next()
		}
	}
	for ; k != nil; step() {
		if len(k) != 8 {
			continue // not a customer (the bucket holds only them)
		}
		seq := seqOfKey(k)
		if seq <= lo || seq >= hi {
			return nil
		}
		if pre.SkipRaw(v) {
			if ok, err := fn(seq, customer.Customer{}, false); !ok || err != nil {
				return err
			}
		} else {
			cu, err := decodeCustomer(v)
			if err != nil {
				return err
			}
			if ok, err := fn(seq, cu, true); !ok || err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *tx) SearchCustomers(q store.CustomerSearchQuery) (store.SearchPage, error) {
	lo, hi := uint64(0), uint64(math.MaxUint64)
	var err error
	if q.StartingAfter != "" {
		if hi, err = t.seqOf(kCustomers, q.StartingAfter); err != nil {
			return store.SearchPage{}, err
		}
	}
	if q.EndingBefore != "" {
		if lo, err = t.seqOf(kCustomers, q.EndingBefore); err != nil {
			return store.SearchPage{}, err
		}
	}
	return store.RunSearch[uint64](boltTokens{t}, q, lo, hi)
}
