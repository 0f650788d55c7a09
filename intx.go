package coffer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// HostTxStore is a store.Store whose transactions run inside a transaction
// the host application opened and will commit or roll back itself:
// postgres.Store.HostTx returns one for a pgx.Tx. Its Update does not
// commit; an error rolls coffer's part back (to a savepoint) and leaves the
// host's transaction usable.
type HostTxStore interface {
	store.Store
	// HostTransaction marks the store as a host transaction's.
	HostTransaction()
}

// ErrProcessorInHostTx: the operation would call the payment processor,
// which never happens inside a store transaction, so it cannot run inside
// the host's transaction (TxEngine.ChargeOneTime of more than the wallet
// holds). Nothing was written; make the call through the Engine, outside
// the host transaction. Code processor_in_host_tx (422).
var ErrProcessorInHostTx = &Error{Kind: KindInvalid, Code: "processor_in_host_tx",
	Message: "coffer: the operation needs a payment processor call, which cannot run inside the host's transaction"}

// TxEngine runs Engine operations inside a transaction of the host
// application (see Engine.InTx): the application's own rows and coffer's
// records commit together, or not at all. It offers the operations that
// need no payment processor call; their validation, business rules,
// idempotency and outbox events are the Engine's own (the same code runs,
// on the host's transaction). A TxEngine must not be used after the host
// transaction ends, nor by two goroutines at once.
type TxEngine struct {
	e    *Engine // the engine, on the host transaction's store
	host HostTxStore
}

// InTx returns the Engine's operations bound to a host transaction, as
// River's InsertTx is. hs comes from the store adapter, on the same
// database as the Engine's store:
//
//	tx, _ := pgStore.Pool().Begin(ctx)
//	defer tx.Rollback(ctx)
//	// ... INSERT the application's order with tx ...
//	res, err := eng.InTx(pgStore.HostTx(tx)).CreateEntry(ctx, customerID, params)
//	if err != nil { return err } // the host transaction is still usable
//	return tx.Commit(ctx)        // order, entry, balance and event together
//
// Events are written to coffer's outbox in the host transaction; the
// webhook dispatcher (Run, RunDispatcher, DispatchDue) delivers them after
// the commit, and never for a transaction that rolled back.
//
// Errors: each call returns the Engine's typed errors and leaves the host
// transaction usable, coffer's part of the call rolled back. A deadlock or
// serialization failure cannot be retried by coffer (the host's statements
// would have to run again too): PostgreSQL's adapter returns it wrapping
// postgres.ErrHostTxRetry, and the host should roll back and run its
// whole transaction again.
func (e *Engine) InTx(hs HostTxStore) *TxEngine {
	h := &Engine{
		store: hs, clock: e.clock, currencies: e.currencies, policy: e.policy, retry: e.retry,
		lowBalance: e.lowBalance, webhooks: e.webhooks, retention: e.retention, idemRetention: e.idemRetention,
		billing: e.billing, log: e.log, onError: e.onError, units: e.units,
		// A processor that refuses every call: nothing on a host
		// transaction may reach the real one (TxEngine checks first).
		processor: hostTxProcessor{},
	}
	// charge.New fails only for a missing field, and every one is set.
	h.charges, _ = charge.New(charge.Config{Store: hs, Clock: e.clock, Processor: h.processor, Billing: e.billing,
		Wallet: engineWallet{h}, Emit: h.emit, Log: e.log})
	return &TxEngine{e: h, host: hs}
}

// CreateCustomer is Engine.CreateCustomer in the host transaction: the
// customer, its wallet balances and the customer.created event.
func (t *TxEngine) CreateCustomer(ctx context.Context, p customer.Params) (customer.Customer, error) {
	return t.e.CreateCustomer(ctx, p)
}

// CreateEntry is Engine.CreateEntry in the host transaction: the entry,
// the new balance and the wallet.balance_changed event commit with the
// host's rows. An idempotency key is claimed only if the host commits: a
// rolled-back transaction leaves the key free.
func (t *TxEngine) CreateEntry(ctx context.Context, customerID string, p EntryParams) (EntryResult, error) {
	return t.e.CreateEntry(ctx, customerID, p)
}

// Balance is Engine.Balance as the host transaction sees it (its own
// uncommitted entries included).
func (t *TxEngine) Balance(ctx context.Context, customerID, currency string) (wallet.Balance, error) {
	return t.e.Balance(ctx, customerID, currency)
}

// Balances is Engine.Balances as the host transaction sees it.
func (t *TxEngine) Balances(ctx context.Context, customerID string) ([]wallet.Balance, error) {
	return t.e.Balances(ctx, customerID)
}

// ChargeOneTime records a one-time payment paid entirely from the
// customer's wallet, in the host transaction: the succeeded payment (Kind
// one_time, WalletAmount = Amount), its ledger debit, the balance and their
// events commit with the host's rows. It is Engine.ChargeOneTime's path
// (same validation, same idempotency: a replay of the key returns the
// original payment) without the processor: when the available balance does
// not cover Amount, the remainder would need a processor call, and
// ChargeOneTime fails with ErrProcessorInHostTx, writing nothing; charge
// it with Engine.ChargeOneTime after the host transaction instead.
// PaymentMethod is required as for Engine.ChargeOneTime (it is recorded
// on the payment).
//
// The balance is read with its row locked until the host transaction
// ends, so the check and the debit cannot be separated by a concurrent
// debit.
func (t *TxEngine) ChargeOneTime(ctx context.Context, customerID string, p OneTimeParams) (subscription.Payment, error) {
	if err := t.walletCovers(ctx, customerID, p); err != nil {
		return subscription.Payment{}, err
	}
	return t.e.ChargeOneTime(ctx, customerID, p)
}

// walletCovers returns ErrProcessorInHostTx when the wallet cannot pay p
// in full. It lets invalid input through: ChargeOneTime's own validation
// then reports it. A replayed idempotency key passes (the original
// payment is the answer).
func (t *TxEngine) walletCovers(ctx context.Context, customerID string, p OneTimeParams) error {
	if checkCustomerID(customerID) != nil || p.Amount <= 0 {
		return nil
	}
	c, err := t.e.currencies.Check(strings.TrimSpace(p.Currency))
	if err != nil {
		return nil
	}
	return t.host.Update(ctx, func(tx store.Tx) error {
		if p.IdempotencyKey != "" && checkIdempotencyKey(subscription.ErrInvalid, p.IdempotencyKey) == nil {
			_, err := tx.PaymentByKey(customerID, p.IdempotencyKey)
			if err == nil {
				return nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		b, err := t.e.balanceForUpdate(tx, customerID, c.Code)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil // an unknown customer: the charge path says so
			}
			return err
		}
		if b.Available() < p.Amount {
			return fmt.Errorf("%w: the wallet holds %d of %d %s", ErrProcessorInHostTx, max(b.Available(), 0), p.Amount, c.Code)
		}
		return nil
	})
}

// hostTxProcessor refuses every call: the processor of an engine bound to
// a host transaction.
type hostTxProcessor struct{}

func (hostTxProcessor) AuthorizeMandate(context.Context, processor.MandateRequest) (processor.Mandate, error) {
	return processor.Mandate{}, ErrProcessorInHostTx
}

func (hostTxProcessor) MandateStatus(context.Context, string) (processor.Mandate, error) {
	return processor.Mandate{}, ErrProcessorInHostTx
}

func (hostTxProcessor) Charge(context.Context, processor.ChargeRequest) (processor.Charge, error) {
	return processor.Charge{}, ErrProcessorInHostTx
}

func (hostTxProcessor) LookupCharge(context.Context, string) (processor.Charge, error) {
	return processor.Charge{}, ErrProcessorInHostTx
}

func (hostTxProcessor) Refund(context.Context, processor.RefundRequest) (processor.Refund, error) {
	return processor.Refund{}, ErrProcessorInHostTx
}
