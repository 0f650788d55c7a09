package store

import (
	"context"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
	"github.com/cofferhq/coffer/webhook"
)

// ImportRecord is one customer of a bulk import (coffer.Engine.
// ImportCustomers) with every record importing it writes: the customer,
// its balances (one per enabled currency), its opening ledger entries and
// the outbox events, in the order they are appended.
type ImportRecord struct {
	Customer customer.Customer
	Balances []wallet.Balance
	Entries  []ledger.Entry
	Events   []webhook.Event
}

// RecordImporter is implemented by a Store with a bulk path for imports
// (store/postgres: COPY into staging tables). ImportRecords writes, in one
// transaction, every record whose customer is not stored yet (neither its
// id nor its DID) and nothing of the others; created[i] reports whether
// recs[i] was written. It writes all of them or, on error, none. The
// customers of recs have distinct ids and DIDs.
type RecordImporter interface {
	ImportRecords(ctx context.Context, recs []ImportRecord) (created []bool, err error)
}
