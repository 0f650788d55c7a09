package memory

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// recordError wraps store.ErrNotFound or store.ErrDuplicate with the record
// it is about. It formats lazily: a miss is the common answer of an
// idempotency-key lookup, on the hot path of every posting.
type recordError struct {
	err      error
	what, id string
}

func (e *recordError) Error() string { return fmt.Sprintf("%v: %s %s", e.err, e.what, e.id) }
func (e *recordError) Unwrap() error { return e.err }

func notFound(what, id string) error { return &recordError{store.ErrNotFound, what, id} }

func duplicate(what, id string) error { return &recordError{store.ErrDuplicate, what, id} }

// ---- customers

func (s *Store) custIndexAdd(n *custNode, v customer.Customer) {
	if v.DID != "" {
		s.custByDID[v.DID] = n
	}
	s.searchAdd(n, v)
}

func (s *Store) custIndexDel(n *custNode, v customer.Customer) {
	if v.DID != "" && s.custByDID[v.DID] == n {
		delete(s.custByDID, v.DID)
	}
	s.searchDel(n, v)
}

func (t *tx) InsertCustomer(c customer.Customer) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if _, ok := s.customers[c.ID]; ok {
		return duplicate("customer", c.ID)
	}
	if c.DID != "" {
		if _, ok := s.custByDID[c.DID]; ok {
			return duplicate("customer did", c.DID)
		}
	}
	n := &custNode{seq: s.nextSeq(), v: copyCustomer(c)}
	s.customers[c.ID] = n
	s.custList = append(s.custList, n)
	s.custIndexAdd(n, n.v)
	s.lists.add(customerEntry(n.v, n.seq), c.ID)
	s.w.add(opInsertCustomer, n, "", 0)
	return nil
}

func (t *tx) Customer(id string) (customer.Customer, error) {
	n, ok := t.s.customers[id]
	if !ok {
		return customer.Customer{}, notFound("customer", id)
	}
	return copyCustomer(n.v), nil
}

func (t *tx) CustomerByDID(did string) (customer.Customer, error) {
	n, ok := t.s.custByDID[did]
	if !ok || did == "" {
		return customer.Customer{}, notFound("customer did", did)
	}
	return copyCustomer(n.v), nil
}

func (t *tx) UpdateCustomer(c customer.Customer) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	n, ok := s.customers[c.ID]
	if !ok {
		return notFound("customer", c.ID)
	}
	if c.DID != "" {
		if o, ok := s.custByDID[c.DID]; ok && o != n {
			return duplicate("customer did", c.DID)
		}
	}
	s.w.add(opUpdateCustomer, n, "", push(&s.w.cust, n.v))
	s.custIndexDel(n, n.v)
	old := customerEntry(n.v, n.seq)
	n.v = copyCustomer(c)
	s.custIndexAdd(n, n.v)
	s.lists.move(old, customerEntry(n.v, n.seq), c.ID)
	return nil
}

// ListCustomers lists customers newest first (by insertion); the email
// filter reads the email index (search.go), so it costs the page.
func (t *tx) ListCustomers(q store.CustomerQuery) ([]customer.Customer, bool, error) {
	s := t.s
	lo, hi, err := bounds(s.customers, q.Page, "customer")
	if err != nil {
		return nil, false, err
	}
	l := s.custList
	if email := customer.Fold(q.Email); email != "" {
		l = s.byEmail[email]
	}
	list, more := page(l, q.Page, lo, hi, nil, copyCustomer)
	return list, more, nil
}

// ---- balances

func findBalance(list []wallet.Balance, currency string) (int, bool) {
	return slices.BinarySearchFunc(list, currency, func(b wallet.Balance, c string) int { return strings.Compare(b.Currency, c) })
}

func (t *tx) Balance(customerID, currency string) (wallet.Balance, error) {
	if ci := t.s.cust[customerID]; ci != nil {
		if j, ok := findBalance(ci.balances, currency); ok {
			return ci.balances[j], nil
		}
	}
	return wallet.Balance{}, notFound("balance", customerID+"/"+currency)
}

func (t *tx) PutBalance(b wallet.Balance) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	ci := s.idx(b.CustomerID)
	j, ok := findBalance(ci.balances, b.Currency)
	if ok {
		s.w.add(opUpdateBalance, ci, b.Currency, push(&s.w.bal, ci.balances[j]))
		ci.balances[j] = b
		return nil
	}
	ci.balances = slices.Insert(ci.balances, j, b)
	s.w.add(opInsertBalance, ci, b.Currency, 0)
	return nil
}

func (t *tx) Balances(customerID string) ([]wallet.Balance, error) {
	if ci := t.s.cust[customerID]; ci != nil && len(ci.balances) > 0 {
		return slices.Clone(ci.balances), nil
	}
	return nil, nil
}

// ---- ledger entries

func (t *tx) InsertEntry(e ledger.Entry) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if _, ok := s.entries.find(e.ID); ok {
		return duplicate("entry", e.ID)
	}
	if e.IdempotencyKey != "" {
		if _, ok := s.entries.findKey(e.CustomerID, e.IdempotencyKey); ok {
			return duplicate("entry idempotency key", e.IdempotencyKey)
		}
	}
	t.insertEntry(&e)
	return nil
}

// InsertEntryOrExisting is InsertEntry returning the entry that already
// holds e's idempotency key instead of an error (store.EntryKeyInserter).
func (t *tx) InsertEntryOrExisting(e ledger.Entry) (ledger.Entry, bool, error) {
	if err := t.write(); err != nil {
		return ledger.Entry{}, false, err
	}
	if e.IdempotencyKey != "" {
		if i, ok := t.s.entries.findKey(e.CustomerID, e.IdempotencyKey); ok {
			return t.s.entries.get(i), true, nil
		}
	}
	if _, ok := t.s.entries.find(e.ID); ok {
		return ledger.Entry{}, false, duplicate("entry", e.ID)
	}
	t.insertEntry(&e)
	return ledger.Entry{}, false, nil
}

// insertEntry inserts e once its id and idempotency key are known free.
func (t *tx) insertEntry(e *ledger.Entry) {
	s := t.s
	i := s.entries.insert(e, s.nextSeq())
	ci := s.idx(e.CustomerID)
	ci.entries = append(ci.entries, i)
	s.w.add(opInsertEntry, ci, "", int(i))
}

func (t *tx) Entry(id string) (ledger.Entry, error) {
	i, ok := t.s.entries.find(id)
	if !ok {
		return ledger.Entry{}, notFound("entry", id)
	}
	return t.s.entries.get(i), nil
}

func (t *tx) EntryByKey(customerID, idempotencyKey string) (ledger.Entry, error) {
	if idempotencyKey != "" {
		if i, ok := t.s.entries.findKey(customerID, idempotencyKey); ok {
			return t.s.entries.get(i), nil
		}
	}
	return ledger.Entry{}, notFound("entry idempotency key", idempotencyKey)
}

// FindEntryByKey is EntryByKey without an error value for a miss
// (store.EntryKeyFinder).
func (t *tx) FindEntryByKey(customerID, idempotencyKey string) (ledger.Entry, bool, error) {
	if idempotencyKey != "" {
		if i, ok := t.s.entries.findKey(customerID, idempotencyKey); ok {
			return t.s.entries.get(i), true, nil
		}
	}
	return ledger.Entry{}, false, nil
}

func (t *tx) ListEntries(q store.EntryQuery) ([]ledger.Entry, bool, error) {
	s := t.s
	et := s.entries
	lo, hi, err := cursor(q.Page, "entry", func(id string) (int64, bool) {
		i, ok := et.find(id)
		if !ok {
			return 0, false
		}
		return et.recs.at(i).seq, true
	})
	if err != nil {
		return nil, false, err
	}
	ci := s.cust[q.CustomerID]
	if ci == nil {
		return nil, false, nil
	}
	list := ci.entries
	var match func(int) bool
	if q.Currency != "" {
		match = func(i int) bool { return et.str(et.recs.at(list[i]), esCurrency) == q.Currency }
	}
	res, more := pageIdx(len(list), func(i int) int64 { return et.recs.at(list[i]).seq }, q.Page, lo, hi, match,
		func(i int) ledger.Entry { return et.get(list[i]) })
	return res, more, nil
}

// ---- holds and products: plain upserts

func (t *tx) PutHold(h ledger.Hold) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if n, ok := s.holds[h.ID]; ok {
		s.w.add(opUpdateHold, n, "", push(&s.w.hold, n.v))
		n.v = h
		return nil
	}
	s.holds[h.ID] = &holdNode{seq: s.nextSeq(), v: h}
	s.w.add(opInsertHold, nil, h.ID, 0)
	return nil
}

func (t *tx) Hold(id string) (ledger.Hold, error) {
	n, ok := t.s.holds[id]
	if !ok {
		return ledger.Hold{}, notFound("hold", id)
	}
	return n.v, nil
}

func (t *tx) PutProduct(p subscription.Product) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	n := s.products[p.ID]
	if s.lists.productKeyTaken(p.IdempotencyKey, n) {
		return duplicate("product idempotency key", p.IdempotencyKey)
	}
	p.Metadata = copyMeta(p.Metadata)
	if n != nil {
		s.w.add(opUpdateProduct, n, "", push(&s.w.prod, n.v))
		old := n.v
		n.v = p
		s.lists.setProductKey(old.IdempotencyKey, p.IdempotencyKey, n)
		s.lists.move(productEntry(old, n.seq), productEntry(p, n.seq), p.ID)
		return nil
	}
	n = &prodNode{seq: s.nextSeq(), v: p}
	s.products[p.ID] = n
	s.lists.setProductKey("", p.IdempotencyKey, n)
	s.lists.add(productEntry(p, n.seq), p.ID)
	s.w.add(opInsertProduct, nil, p.ID, 0)
	return nil
}

func (t *tx) Product(id string) (subscription.Product, error) {
	n, ok := t.s.products[id]
	if !ok {
		return subscription.Product{}, notFound("product", id)
	}
	p := n.v
	p.Metadata = copyMeta(p.Metadata)
	return p, nil
}

// ---- subscriptions

func (t *tx) InsertSubscription(sub subscription.Subscription) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if _, ok := s.subs[sub.ID]; ok {
		return duplicate("subscription", sub.ID)
	}
	n := &subNode{seq: s.nextSeq(), v: copySub(sub)}
	s.subs[sub.ID] = n
	ci := s.idx(sub.CustomerID)
	ci.subs = append(ci.subs, n)
	s.lists.add(subEntry(n.v, n.seq), sub.ID)
	s.w.add(opInsertSub, n, sub.CustomerID, 0)
	return nil
}

func (t *tx) Subscription(id string) (subscription.Subscription, error) {
	n, ok := t.s.subs[id]
	if !ok {
		return subscription.Subscription{}, notFound("subscription", id)
	}
	return copySub(n.v), nil
}

// UpdateSubscription keeps the subscription in the list of the customer it
// was inserted for: CustomerID is treated as immutable.
func (t *tx) UpdateSubscription(sub subscription.Subscription) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	n, ok := s.subs[sub.ID]
	if !ok {
		return notFound("subscription", sub.ID)
	}
	s.w.add(opUpdateSub, n, "", push(&s.w.sub, n.v))
	old := subEntry(n.v, n.seq)
	n.v = copySub(sub)
	s.lists.move(old, subEntry(n.v, n.seq), sub.ID)
	return nil
}

func (t *tx) ListSubscriptions(customerID string, p store.Page) ([]subscription.Subscription, bool, error) {
	s := t.s
	lo, hi, err := bounds(s.subs, p, "subscription")
	if err != nil {
		return nil, false, err
	}
	ci := s.cust[customerID]
	if ci == nil {
		return nil, false, nil
	}
	list, more := page(ci.subs, p, lo, hi, nil, copySub)
	return list, more, nil
}

// ---- payments

func (s *Store) payIndexAdd(n *payNode, v subscription.Payment) {
	if v.IdempotencyKey != "" {
		s.payKeys[pair{v.CustomerID, v.IdempotencyKey}] = n
	}
}

func (s *Store) payIndexDel(n *payNode, v subscription.Payment) {
	k := pair{v.CustomerID, v.IdempotencyKey}
	if v.IdempotencyKey != "" && s.payKeys[k] == n {
		delete(s.payKeys, k)
	}
}

func (t *tx) InsertPayment(p subscription.Payment) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if _, ok := s.payments[p.ID]; ok {
		return duplicate("payment", p.ID)
	}
	if p.IdempotencyKey != "" {
		if _, ok := s.payKeys[pair{p.CustomerID, p.IdempotencyKey}]; ok {
			return duplicate("payment idempotency key", p.IdempotencyKey)
		}
	}
	n := &payNode{seq: s.nextSeq(), v: copyPayment(p)}
	s.payments[p.ID] = n
	s.payList = append(s.payList, n)
	ci := s.idx(p.CustomerID)
	ci.payments = append(ci.payments, n)
	s.payIndexAdd(n, n.v)
	s.lists.add(paymentEntry(n.v, n.seq), p.ID)
	s.w.add(opInsertPayment, n, p.CustomerID, 0)
	return nil
}

func (t *tx) Payment(id string) (subscription.Payment, error) {
	n, ok := t.s.payments[id]
	if !ok {
		return subscription.Payment{}, notFound("payment", id)
	}
	return copyPayment(n.v), nil
}

func (t *tx) PaymentByKey(customerID, idempotencyKey string) (subscription.Payment, error) {
	n, ok := t.s.payKeys[pair{customerID, idempotencyKey}]
	if !ok || idempotencyKey == "" {
		return subscription.Payment{}, notFound("payment idempotency key", idempotencyKey)
	}
	return copyPayment(n.v), nil
}

// UpdatePayment keeps the payment in the lists of the customer it was
// inserted for (CustomerID is treated as immutable) but re-checks a changed
// idempotency key.
func (t *tx) UpdatePayment(p subscription.Payment) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	n, ok := s.payments[p.ID]
	if !ok {
		return notFound("payment", p.ID)
	}
	if p.IdempotencyKey != "" {
		if o, ok := s.payKeys[pair{p.CustomerID, p.IdempotencyKey}]; ok && o != n {
			return duplicate("payment idempotency key", p.IdempotencyKey)
		}
	}
	s.w.add(opUpdatePayment, n, "", push(&s.w.pay, n.v))
	s.payIndexDel(n, n.v)
	old := paymentEntry(n.v, n.seq)
	n.v = copyPayment(p)
	s.payIndexAdd(n, n.v)
	s.lists.move(old, paymentEntry(n.v, n.seq), p.ID)
	return nil
}

func (t *tx) ListPayments(q store.PaymentQuery) ([]subscription.Payment, bool, error) {
	s := t.s
	lo, hi, err := bounds(s.payments, q.Page, "payment")
	if err != nil {
		return nil, false, err
	}
	list := s.payList
	if q.CustomerID != "" {
		ci := s.cust[q.CustomerID]
		if ci == nil {
			return nil, false, nil
		}
		list = ci.payments
	}
	var match func(*subscription.Payment) bool
	if len(q.Statuses) > 0 {
		match = func(p *subscription.Payment) bool { return slices.Contains(q.Statuses, p.Status) }
	}
	res, more := page(list, q.Page, lo, hi, match, copyPayment)
	return res, more, nil
}

// ---- refunds

func (s *Store) refIndexAdd(n *refNode, v subscription.Refund) {
	if v.IdempotencyKey != "" {
		s.refKeys[pair{v.PaymentID, v.IdempotencyKey}] = n
	}
	if v.Status == subscription.RefundPending {
		s.pending.insert(okey{seq: n.seq}, n)
	}
}

func (s *Store) refIndexDel(n *refNode, v subscription.Refund) {
	k := pair{v.PaymentID, v.IdempotencyKey}
	if v.IdempotencyKey != "" && s.refKeys[k] == n {
		delete(s.refKeys, k)
	}
	if v.Status == subscription.RefundPending {
		s.pending.delete(okey{seq: n.seq})
	}
}

func (t *tx) InsertRefund(r subscription.Refund) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if _, ok := s.refunds[r.ID]; ok {
		return duplicate("refund", r.ID)
	}
	if r.IdempotencyKey != "" {
		if _, ok := s.refKeys[pair{r.PaymentID, r.IdempotencyKey}]; ok {
			return duplicate("refund idempotency key", r.IdempotencyKey)
		}
	}
	n := &refNode{seq: s.nextSeq(), v: r}
	s.refunds[r.ID] = n
	s.refsByPay[r.PaymentID] = append(s.refsByPay[r.PaymentID], n)
	s.refIndexAdd(n, n.v)
	s.lists.add(refundEntry(r, n.seq), r.ID)
	s.w.add(opInsertRefund, n, r.PaymentID, 0)
	return nil
}

func (t *tx) Refund(id string) (subscription.Refund, error) {
	n, ok := t.s.refunds[id]
	if !ok {
		return subscription.Refund{}, notFound("refund", id)
	}
	return n.v, nil
}

func (t *tx) RefundByKey(paymentID, idempotencyKey string) (subscription.Refund, error) {
	n, ok := t.s.refKeys[pair{paymentID, idempotencyKey}]
	if !ok || idempotencyKey == "" {
		return subscription.Refund{}, notFound("refund idempotency key", idempotencyKey)
	}
	return n.v, nil
}

// UpdateRefund keeps the refund in the list of the payment it was inserted
// for: PaymentID is treated as immutable.
func (t *tx) UpdateRefund(r subscription.Refund) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	n, ok := s.refunds[r.ID]
	if !ok {
		return notFound("refund", r.ID)
	}
	if r.IdempotencyKey != "" {
		if o, ok := s.refKeys[pair{r.PaymentID, r.IdempotencyKey}]; ok && o != n {
			return duplicate("refund idempotency key", r.IdempotencyKey)
		}
	}
	s.w.add(opUpdateRefund, n, "", push(&s.w.ref, n.v))
	s.refIndexDel(n, n.v)
	old := refundEntry(n.v, n.seq)
	n.v = r
	s.refIndexAdd(n, n.v)
	s.lists.move(old, refundEntry(r, n.seq), r.ID)
	return nil
}

func (t *tx) ListRefunds(paymentID string) ([]subscription.Refund, error) {
	list := t.s.refsByPay[paymentID]
	res := make([]subscription.Refund, len(list))
	for i, n := range list {
		res[i] = n.v
	}
	return res, nil
}

func (t *tx) PendingRefunds(limit int) ([]subscription.Refund, error) {
	limit = batch(limit)
	var res []subscription.Refund
	for x := t.s.pending.first(); x != nil && len(res) < limit; x = x.next[0] {
		res = append(res, x.v.v)
	}
	return res, nil
}

// batch is the effective size of an unpaged batch query: limit <= 0 means
// store.DefaultLimit; there is no upper bound, since workers size batches.
func batch(limit int) int {
	if limit <= 0 {
		return store.DefaultLimit
	}
	return limit
}

// ---- outbox

// CopiesEventData reports that InsertEvent copies e.Data into the store's
// own memory (store.EventDataCopier).
func (t *tx) CopiesEventData() bool { return true }

func (t *tx) InsertEvent(e webhook.Event) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if _, ok := s.events.find(e.ID); ok {
		return duplicate("event", e.ID)
	}
	s.evSeq++
	e.Seq = s.evSeq
	i := s.events.insert(&e)
	s.lists.addEvent(e, i)
	if !e.Dispatched {
		s.undispatched = append(s.undispatched, i)
		s.undLive++
	} else {
		s.evDone.insert(s.events.doneKey(i), i)
	}
	s.w.add(opInsertEvent, nil, "", int(i))
	return nil
}

func (t *tx) Event(id string) (webhook.Event, error) {
	i, ok := t.s.events.find(id)
	if !ok {
		return webhook.Event{}, notFound("event", id)
	}
	return t.s.events.get(i), nil
}

func (t *tx) Events(afterSeq int64, limit int) ([]webhook.Event, error) {
	limit = batch(limit)
	et := t.s.events
	var res []webhook.Event
	for i := et.after(afterSeq); i < et.recs.n && len(res) < limit; i++ {
		if !et.recs.at(i).pruned {
			res = append(res, et.get(i))
		}
	}
	return res, nil
}

func (t *tx) UndispatchedEvents(limit int) ([]webhook.Event, error) {
	limit = batch(limit)
	s := t.s
	var res []webhook.Event
	for _, i := range s.undispatched[s.undHead:] {
		if len(res) == limit {
			break
		}
		if !s.events.recs.at(i).dispatched {
			res = append(res, s.events.get(i))
		}
	}
	return res, nil
}

func (t *tx) MarkEventDispatched(id string) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	i, ok := s.events.find(id)
	if !ok {
		return notFound("event", id)
	}
	r := s.events.recs.at(i)
	if r.dispatched {
		return nil
	}
	r.dispatched = true
	s.undLive--
	s.evDone.insert(s.events.doneKey(i), i)
	s.w.add(opMarkDispatched, nil, "", int(i))
	return nil
}

// ---- retry attempts

func (s *Store) attIndexAdd(n *attNode, v retry.Attempt) {
	if v.Status.Active() {
		s.attDue.insert(key(v.RunAt, n.seq), n)
	}
	if v.Status == retry.AttemptClaimed {
		s.claimedAll[n] = struct{}{}
		ci := s.idx(v.CustomerID)
		if ci.claimed == nil {
			ci.claimed = make(map[*attNode]struct{})
		}
		ci.claimed[n] = struct{}{}
	}
}

func (s *Store) attIndexDel(n *attNode, v retry.Attempt) {
	if v.Status.Active() {
		s.attDue.delete(key(v.RunAt, n.seq))
	}
	if v.Status == retry.AttemptClaimed {
		delete(s.claimedAll, n)
		if ci := s.cust[v.CustomerID]; ci != nil {
			delete(ci.claimed, n)
		}
	}
}

func (t *tx) PutAttempt(a retry.Attempt) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	a = copyAttempt(a)
	if n, ok := s.attempts[a.ID]; ok {
		s.w.add(opUpdateAttempt, n, "", push(&s.w.att, n.v))
		s.attIndexDel(n, n.v)
		old := attemptEntry(n.v, n.seq)
		n.v = a
		s.attIndexAdd(n, a)
		s.lists.move(old, attemptEntry(a, n.seq), a.ID)
		return nil
	}
	n := &attNode{seq: s.nextSeq(), v: a}
	s.attempts[a.ID] = n
	s.attBySub[a.SubscriptionID] = append(s.attBySub[a.SubscriptionID], n)
	s.attIndexAdd(n, a)
	s.lists.add(attemptEntry(a, n.seq), a.ID)
	s.w.add(opInsertAttempt, n, a.SubscriptionID, 0)
	return nil
}

func (t *tx) Attempt(id string) (retry.Attempt, error) {
	n, ok := t.s.attempts[id]
	if !ok {
		return retry.Attempt{}, notFound("attempt", id)
	}
	return copyAttempt(n.v), nil
}

// dueRange counts the due records (at most limit) at the front of a time
// index, so the result is allocated once.
func dueRange[V any](l *skiplist[V], now time.Time, limit int) (*snode[V], int) {
	n := 0
	for x := l.first(); x != nil && n < limit && !x.k.at.After(now); x = x.next[0] {
		n++
	}
	return l.first(), n
}

func (t *tx) AttemptsBySubscription(subscriptionID string) ([]retry.Attempt, error) {
	list := t.s.attBySub[subscriptionID]
	res := make([]retry.Attempt, len(list))
	for i, n := range list {
		res[i] = copyAttempt(n.v)
	}
	slices.SortStableFunc(res, func(a, b retry.Attempt) int { return a.Number - b.Number })
	return res, nil
}

// ---- webhook endpoints

func (t *tx) PutEndpoint(e webhook.Endpoint) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	e = copyEndpoint(e)
	n := s.endpoints[e.ID]
	if s.lists.endpointKeyTaken(e.IdempotencyKey, n) {
		return duplicate("endpoint idempotency key", e.IdempotencyKey)
	}
	if n != nil {
		s.w.add(opUpdateEndpoint, n, "", push(&s.w.ep, n.v))
		old := n.v
		n.v = e
		s.lists.setEndpointKey(old.IdempotencyKey, e.IdempotencyKey, n)
		s.lists.move(endpointEntry(old, n.seq), endpointEntry(e, n.seq), e.ID)
		return nil
	}
	n = &epNode{seq: s.nextSeq(), v: e}
	s.endpoints[e.ID] = n
	s.epList = append(s.epList, n)
	s.lists.setEndpointKey("", e.IdempotencyKey, n)
	s.lists.add(endpointEntry(e, n.seq), e.ID)
	s.w.add(opInsertEndpoint, n, "", 0)
	return nil
}

func (t *tx) Endpoint(id string) (webhook.Endpoint, error) {
	n, ok := t.s.endpoints[id]
	if !ok {
		return webhook.Endpoint{}, notFound("endpoint", id)
	}
	return copyEndpoint(n.v), nil
}

func (t *tx) DeleteEndpoint(id string) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	n, ok := s.endpoints[id]
	if !ok {
		return notFound("endpoint", id)
	}
	delete(s.endpoints, id)
	s.epList = removeNode(s.epList, n)
	s.lists.setEndpointKey(n.v.IdempotencyKey, "", n)
	s.lists.del(endpointEntry(n.v, n.seq))
	s.w.add(opDeleteEndpoint, n, "", 0)
	return nil
}

func (t *tx) Endpoints() ([]webhook.Endpoint, error) {
	res := make([]webhook.Endpoint, len(t.s.epList))
	for i, n := range t.s.epList {
		res[i] = copyEndpoint(n.v)
	}
	return res, nil
}

// ---- webhook deliveries

// delIndexAdd files n, whose value is v, in the status, due and retention
// indexes; delIndexDel takes it out. Every change of a delivery's value goes
// through the pair.
func (s *Store) delIndexAdd(n *delNode, v webhook.Delivery) {
	s.delByStatus[v.Status] = insertBySeq(s.delByStatus[v.Status], n)
	if v.Status.Active() {
		s.delDue.insert(key(v.RunAt, n.seq), n)
	} else {
		s.delDone.insert(key(v.UpdatedAt, n.seq), n)
	}
}

func (s *Store) delIndexDel(n *delNode, v webhook.Delivery) {
	dropBySeq(s.delByStatus, v.Status, n)
	if v.Status.Active() {
		s.delDue.delete(key(v.RunAt, n.seq))
	} else {
		s.delDone.delete(key(v.UpdatedAt, n.seq))
	}
}

// PutDelivery keeps a delivery in the lists of the event and endpoint it
// was inserted for: EventID and EndpointID are treated as immutable.
func (t *tx) PutDelivery(d webhook.Delivery) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if n, ok := s.deliveries[d.ID]; ok {
		s.w.add(opUpdateDelivery, n, "", push(&s.w.deliv, n.v))
		s.delIndexDel(n, n.v)
		n.v = d
		s.delIndexAdd(n, d)
		return nil
	}
	n := &delNode{seq: s.nextSeq(), v: d}
	s.deliveries[d.ID] = n
	s.delList = append(s.delList, n)
	s.delByEvent[d.EventID] = append(s.delByEvent[d.EventID], n)
	s.delByEp[d.EndpointID] = append(s.delByEp[d.EndpointID], n)
	s.delIndexAdd(n, d)
	s.w.add(opInsertDelivery, n, "", 0)
	return nil
}

func (t *tx) Delivery(id string) (webhook.Delivery, error) {
	n, ok := t.s.deliveries[id]
	if !ok {
		return webhook.Delivery{}, notFound("delivery", id)
	}
	return n.v, nil
}

func (t *tx) DueDeliveries(now time.Time, limit int) ([]webhook.Delivery, error) {
	first, n := dueRange(t.s.delDue, now, batch(limit))
	res := make([]webhook.Delivery, 0, n)
	for x := first; len(res) < n; x = x.next[0] {
		res = append(res, x.v.v)
	}
	return res, nil
}

func (t *tx) ListDeliveries(q store.DeliveryQuery) ([]webhook.Delivery, bool, error) {
	s := t.s
	lo, hi, err := bounds(s.deliveries, q.Page, "delivery")
	if err != nil {
		return nil, false, err
	}
	list := s.delList
	switch {
	case q.EventID != "":
		list = s.delByEvent[q.EventID]
	case q.EndpointID != "":
		list = s.delByEp[q.EndpointID]
	case q.Status != "":
		// Every delivery of the list has the status: no filter, so the
		// cost is the page's.
		res, more := page(s.delByStatus[q.Status], q.Page, lo, hi, nil, same[webhook.Delivery])
		return res, more, nil
	}
	var match func(*webhook.Delivery) bool
	if q.EventID != "" || q.EndpointID != "" || q.Status != "" {
		match = func(d *webhook.Delivery) bool {
			return (q.EventID == "" || d.EventID == q.EventID) &&
				(q.EndpointID == "" || d.EndpointID == q.EndpointID) &&
				(q.Status == "" || d.Status == q.Status)
		}
	}
	res, more := page(list, q.Page, lo, hi, match, same[webhook.Delivery])
	return res, more, nil
}
