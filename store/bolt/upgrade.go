package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// Layout 2 (this release) dropped the layout-1 index buckets that repeated
// scopes of the lists bucket, so that a pending payment writes 9 keys in 4
// buckets instead of 12 in 7, its settlement 13 keys in 5 buckets instead of
// 17 in 8, an entry 10 keys in 6 buckets instead of 7, and an imported
// customer two keys less:
//
//   - payments.customer, payments.status, payments.customer_status: the
//     lists scopes "pay.c", "pay.t", "pay.ct";
//   - customers.email: "cus.email"; subscriptions.customer: "sub.c";
//     refunds.payment: "ref.p";
//   - events.undispatched: the lists scope "ev.u" (zero time + seq), next
//     to the event's other list keys;
//   - the lists bucket's "cus.did" scope: a DID names one customer, which
//     the unique customers.did bucket finds (QueryCustomers);
//   - payments.key (scope(customer, key) -> seq) moved into the wallets
//     bucket (scope(customer) + tagPaymentKey + key -> seq), next to the
//     customer's balances and entry keys.
//
// A layout-1 file is migrated once, in Open's transaction, after the lists
// bucket is known to be complete (backfillLists): the payment keys move,
// the dropped buckets are deleted (their pages freed), and the version
// becomes 2. A layout-1 release refuses a layout-2 file (ErrIncompatible),
// as it refuses every version but its own.
var (
	v1PaymentCustomer       = []byte("payments.customer")
	v1PaymentStatus         = []byte("payments.status")
	v1PaymentCustomerStatus = []byte("payments.customer_status")
	v1PaymentKey            = []byte("payments.key")
	v1CustomerEmail         = []byte("customers.email")
	v1SubCustomer           = []byte("subscriptions.customer")
	v1RefundPayment         = []byte("refunds.payment")
	v1EventUndispatched     = []byte("events.undispatched")
)

// splitScope2 reads a two-part scope (scope(a, b)).
func splitScope2(k []byte) (a, b string, ok bool) {
	var parts [2]string
	for i := range parts {
		n, w := binary.Uvarint(k)
		if w <= 0 || uint64(len(k)-w) < n {
			return "", "", false
		}
		parts[i] = string(k[w : w+int(n)])
		k = k[w+int(n):]
	}
	return parts[0], parts[1], len(k) == 0
}

// migrateV1 turns a layout-1 file into layout 2 (see above).
func migrateV1(btx *bbolt.Tx) error {
	if btx.Bucket(bMeta).Get(keyListsDone) == nil {
		return fmt.Errorf("%w: layout 1 without complete list indexes", errCorrupt)
	}
	if pk := btx.Bucket(v1PaymentKey); pk != nil {
		w := btx.Bucket(bWallets)
		err := pk.ForEach(func(k, v []byte) error {
			cust, key, ok := splitScope2(k)
			if !ok || len(v) != 8 {
				return fmt.Errorf("%w: payments.key entry %q", errCorrupt, k)
			}
			if err := w.Put(walletKey(cust, tagPaymentKey, key), bytes.Clone(v)); err != nil {
				return fmt.Errorf("bolt: migrate payment key: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	lists := btx.Bucket(bLists)
	// Undispatched events move into the lists bucket ("ev.u").
	if ub := btx.Bucket(v1EventUndispatched); ub != nil {
		err := ub.ForEach(func(k, _ []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("%w: events.undispatched key %q", errCorrupt, k)
			}
			uk := undispatchedKey(seqOfKey(k))
			if err := lists.Put(uk.key, []byte{}); err != nil {
				return fmt.Errorf("bolt: migrate undispatched event: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// The "cus.did" scope of the lists bucket goes too.
	didScope := scope("cus.did")
	c := lists.Cursor()
	for k, _ := c.Seek(didScope); k != nil && bytes.HasPrefix(k, didScope); k, _ = c.Seek(didScope) {
		if err := lists.Delete(k); err != nil {
			return fmt.Errorf("bolt: migrate: %w", err)
		}
	}
	for _, name := range [][]byte{v1PaymentKey, v1PaymentCustomer, v1PaymentStatus, v1PaymentCustomerStatus,
		v1CustomerEmail, v1SubCustomer, v1RefundPayment, v1EventUndispatched} {
		if btx.Bucket(name) == nil {
			continue
		}
		if err := btx.DeleteBucket(name); err != nil {
			return fmt.Errorf("bolt: migrate: drop %s: %w", name, err)
		}
	}
	return btx.Bucket(bMeta).Put(keyVersion, binary.BigEndian.AppendUint64(nil, layoutVersion))
}
