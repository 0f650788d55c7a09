package memory

import (
	"slices"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

type opKind uint8

const (
	opInsertCustomer opKind = iota
	opUpdateCustomer
	opInsertBalance
	opUpdateBalance
	opInsertEntry
	opInsertHold
	opUpdateHold
	opInsertProduct
	opUpdateProduct
	opInsertSub
	opUpdateSub
	opInsertPayment
	opUpdatePayment
	opInsertRefund
	opUpdateRefund
	opInsertEvent
	opMarkDispatched
	opInsertAttempt
	opUpdateAttempt
	opInsertEndpoint
	opUpdateEndpoint
	opDeleteEndpoint
	opInsertDelivery
	opUpdateDelivery
	opPruneEvent
	opPruneDelivery
	// opFunc: ref is a func() that undoes the write (the API keys and
	// idempotency records of keys.go, written seldom enough that a closure
	// per write costs nothing that matters).
	opFunc
)

// undoOp is one reversible write. ref is the node (or *custIdx) written;
// i indexes the previous value in the typed stack of wstate, so recording an
// update allocates nothing once the stacks have grown.
type undoOp struct {
	kind opKind
	ref  any
	key  string
	i    int
}

// wstate is the undo log of the current write transaction. There is one per
// store, reused: writers are serialized.
type wstate struct {
	log   []undoOp
	seq   int64
	evSeq int64

	cust  []customer.Customer
	bal   []wallet.Balance
	hold  []ledger.Hold
	prod  []subscription.Product
	sub   []subscription.Subscription
	pay   []subscription.Payment
	ref   []subscription.Refund
	att   []retry.Attempt
	ep    []webhook.Endpoint
	deliv []webhook.Delivery
}

func (w *wstate) begin(s *Store) {
	w.seq = s.seq
	w.evSeq = s.evSeq
}

func push[T any](stack *[]T, v T) int {
	*stack = append(*stack, v)
	return len(*stack) - 1
}

// keepCap bounds what a reused stack retains after a large transaction.
const keepCap = 1024

func resetStack[T any](stack *[]T) {
	if cap(*stack) > keepCap {
		*stack = nil
		return
	}
	clear(*stack)
	*stack = (*stack)[:0]
}

func (w *wstate) add(kind opKind, ref any, key string, i int) {
	w.log = append(w.log, undoOp{kind: kind, ref: ref, key: key, i: i})
}

func (w *wstate) reset() {
	resetStack(&w.log)
	resetStack(&w.cust)
	resetStack(&w.bal)
	resetStack(&w.hold)
	resetStack(&w.prod)
	resetStack(&w.sub)
	resetStack(&w.pay)
	resetStack(&w.ref)
	resetStack(&w.att)
	resetStack(&w.ep)
	resetStack(&w.deliv)
}

// popLast removes n from the end of list; inserts are undone in reverse
// order, so the node is always last.
func popLast[T comparable](list []T, n T) []T {
	if len(list) == 0 || list[len(list)-1] != n {
		panic("memory: undo log out of order")
	}
	var zero T
	list[len(list)-1] = zero
	return list[:len(list)-1]
}

func popFrom[T comparable](m map[string][]T, k string, n T) {
	l := popLast(m[k], n)
	if len(l) == 0 {
		delete(m, k)
		return
	}
	m[k] = l
}

// rollback reverts the log newest first.
func (w *wstate) rollback(s *Store) {
	for i := len(w.log) - 1; i >= 0; i-- {
		op := &w.log[i]
		switch op.kind {
		case opInsertCustomer:
			n := op.ref.(*custNode)
			s.custIndexDel(n, n.v)
			s.lists.del(customerEntry(n.v, n.seq))
			delete(s.customers, n.v.ID)
			s.custList = popLast(s.custList, n)
		case opUpdateCustomer:
			n := op.ref.(*custNode)
			s.custIndexDel(n, n.v)
			now := customerEntry(n.v, n.seq)
			n.v = w.cust[op.i]
			s.custIndexAdd(n, n.v)
			s.lists.move(now, customerEntry(n.v, n.seq), n.v.ID)
		case opInsertBalance:
			ci := op.ref.(*custIdx)
			j, ok := findBalance(ci.balances, op.key)
			if ok {
				ci.balances = slices.Delete(ci.balances, j, j+1)
			}
		case opUpdateBalance:
			ci := op.ref.(*custIdx)
			if j, ok := findBalance(ci.balances, op.key); ok {
				ci.balances[j] = w.bal[op.i]
			}
		case opInsertEntry:
			ci := op.ref.(*custIdx)
			ci.entries = popLast(ci.entries, uint32(op.i))
			s.entries.unlink(uint32(op.i))
		case opInsertHold:
			delete(s.holds, op.key)
		case opUpdateHold:
			op.ref.(*holdNode).v = w.hold[op.i]
		case opInsertProduct:
			n := s.products[op.key]
			s.lists.setProductKey(n.v.IdempotencyKey, "", n)
			s.lists.del(productEntry(n.v, n.seq))
			delete(s.products, op.key)
		case opUpdateProduct:
			n := op.ref.(*prodNode)
			now := n.v
			n.v = w.prod[op.i]
			s.lists.setProductKey(now.IdempotencyKey, n.v.IdempotencyKey, n)
			s.lists.move(productEntry(now, n.seq), productEntry(n.v, n.seq), n.v.ID)
		case opInsertSub:
			n := op.ref.(*subNode)
			s.lists.del(subEntry(n.v, n.seq))
			delete(s.subs, n.v.ID)
			ci := s.cust[op.key]
			ci.subs = popLast(ci.subs, n)
		case opUpdateSub:
			n := op.ref.(*subNode)
			now := subEntry(n.v, n.seq)
			n.v = w.sub[op.i]
			s.lists.move(now, subEntry(n.v, n.seq), n.v.ID)
		case opInsertPayment:
			n := op.ref.(*payNode)
			s.payIndexDel(n, n.v)
			s.lists.del(paymentEntry(n.v, n.seq))
			delete(s.payments, n.v.ID)
			s.payList = popLast(s.payList, n)
			ci := s.cust[op.key]
			ci.payments = popLast(ci.payments, n)
		case opUpdatePayment:
			n := op.ref.(*payNode)
			s.payIndexDel(n, n.v)
			now := paymentEntry(n.v, n.seq)
			n.v = w.pay[op.i]
			s.payIndexAdd(n, n.v)
			s.lists.move(now, paymentEntry(n.v, n.seq), n.v.ID)
		case opInsertRefund:
			n := op.ref.(*refNode)
			s.refIndexDel(n, n.v)
			s.lists.del(refundEntry(n.v, n.seq))
			delete(s.refunds, n.v.ID)
			popFrom(s.refsByPay, op.key, n)
		case opUpdateRefund:
			n := op.ref.(*refNode)
			s.refIndexDel(n, n.v)
			now := refundEntry(n.v, n.seq)
			n.v = w.ref[op.i]
			s.refIndexAdd(n, n.v)
			s.lists.move(now, refundEntry(n.v, n.seq), n.v.ID)
		case opInsertEvent:
			i := uint32(op.i)
			s.lists.delEvent(s.events.get(i))
			if !s.events.recs.at(i).dispatched {
				s.undispatched = popLast(s.undispatched, i)
				s.undLive--
			} else {
				s.evDone.delete(s.events.doneKey(i))
			}
			s.events.unlink(i)
		case opMarkDispatched:
			s.events.recs.at(uint32(op.i)).dispatched = false
			s.undLive++
			s.evDone.delete(s.events.doneKey(uint32(op.i)))
		case opPruneEvent:
			i := uint32(op.i)
			s.events.recs.at(i).pruned = false
			s.evDone.insert(s.events.doneKey(i), i)
		case opPruneDelivery:
			s.restoreDelivery(op.ref.(*delNode))
		case opInsertAttempt:
			n := op.ref.(*attNode)
			s.attIndexDel(n, n.v)
			s.lists.del(attemptEntry(n.v, n.seq))
			delete(s.attempts, n.v.ID)
			popFrom(s.attBySub, op.key, n)
		case opUpdateAttempt:
			n := op.ref.(*attNode)
			s.attIndexDel(n, n.v)
			now := attemptEntry(n.v, n.seq)
			n.v = w.att[op.i]
			s.attIndexAdd(n, n.v)
			s.lists.move(now, attemptEntry(n.v, n.seq), n.v.ID)
		case opInsertEndpoint:
			n := op.ref.(*epNode)
			delete(s.endpoints, n.v.ID)
			s.epList = removeNode(s.epList, n)
			s.lists.setEndpointKey(n.v.IdempotencyKey, "", n)
			s.lists.del(endpointEntry(n.v, n.seq))
		case opUpdateEndpoint:
			n := op.ref.(*epNode)
			now := n.v
			n.v = w.ep[op.i]
			s.lists.setEndpointKey(now.IdempotencyKey, n.v.IdempotencyKey, n)
			s.lists.move(endpointEntry(now, n.seq), endpointEntry(n.v, n.seq), n.v.ID)
		case opDeleteEndpoint:
			n := op.ref.(*epNode)
			s.endpoints[n.v.ID] = n
			s.lists.setEndpointKey("", n.v.IdempotencyKey, n)
			s.lists.add(endpointEntry(n.v, n.seq), n.v.ID)
			j, _ := slices.BinarySearchFunc(s.epList, n.seq, func(e *epNode, seq int64) int { return cmpInt(e.seq, seq) })
			s.epList = slices.Insert(s.epList, j, n)
		case opInsertDelivery:
			n := op.ref.(*delNode)
			s.delIndexDel(n, n.v)
			delete(s.deliveries, n.v.ID)
			s.delList = popLast(s.delList, n)
			popFrom(s.delByEvent, n.v.EventID, n)
			popFrom(s.delByEp, n.v.EndpointID, n)
		case opUpdateDelivery:
			n := op.ref.(*delNode)
			s.delIndexDel(n, n.v)
			n.v = w.deliv[op.i]
			s.delIndexAdd(n, n.v)
		case opFunc:
			op.ref.(func())()
		}
	}
	s.seq = w.seq
	s.evSeq = w.evSeq
}

func removeNode[T comparable](list []T, n T) []T {
	if j := slices.Index(list, n); j >= 0 {
		return slices.Delete(list, j, j+1)
	}
	return list
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
