package coffer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// List is one page of a list (newest first unless the list says
// otherwise). When HasMore, NextCursor is the id to continue from in the
// direction the page was read: pass it as StartingAfter for the next page
// (or, for a page read with EndingBefore alone, as EndingBefore for the
// page before it). Iterate does this for you.
type List[T any] struct {
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListParams selects a page: Limit 1..100 (0 means 20), StartingAfter an
// id to continue after (older records), EndingBefore an id to page back
// from (newer records). A malformed cursor (see ErrInvalidID) is refused
// like an unknown one, with ErrInvalidCursor.
type ListParams struct {
	Limit         int    `json:"limit,omitempty"`
	StartingAfter string `json:"starting_after,omitempty"`
	EndingBefore  string `json:"ending_before,omitempty"`
}

func (p ListParams) page() (store.Page, error) {
	if p.Limit < 0 || p.Limit > store.MaxLimit {
		return store.Page{}, ErrInvalidLimit
	}
	if p.StartingAfter != "" && p.EndingBefore != "" {
		return store.Page{}, fmt.Errorf("%w: starting_after and ending_before are exclusive", ErrInvalid)
	}
	if err := checkID(ErrInvalidCursor, "starting_after", p.StartingAfter); err != nil {
		return store.Page{}, err
	}
	if err := checkID(ErrInvalidCursor, "ending_before", p.EndingBefore); err != nil {
		return store.Page{}, err
	}
	return store.Page{Limit: p.Limit, StartingAfter: p.StartingAfter, EndingBefore: p.EndingBefore}, nil
}

// listErr turns an unknown cursor into ErrInvalidCursor.
func listErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %v", ErrInvalidCursor, err)
	}
	return err
}

// CreateCustomer creates a customer and its wallet: a zero balance in every
// enabled currency, in one transaction.
func (e *Engine) CreateCustomer(ctx context.Context, p customer.Params) (customer.Customer, error) {
	c, err := customer.New(newID("cus"), p, e.clock.Now())
	if err != nil {
		return customer.Customer{}, err
	}
	err = e.update(ctx, func(tx store.Tx) error { return e.createCustomer(tx, c) })
	if err != nil {
		return customer.Customer{}, err
	}
	return c, nil
}

func (e *Engine) createCustomer(tx store.Tx, c customer.Customer) error {
	if err := e.checkDID(tx, c.DID, c.ID); err != nil {
		return err
	}
	if err := tx.InsertCustomer(c); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("%w: %s", customer.ErrDuplicateDID, text.Quote(c.DID))
		}
		return err
	}
	for _, code := range e.currencies.Codes() {
		if err := tx.PutBalance(wallet.Balance{CustomerID: c.ID, Currency: code, UpdatedAt: c.CreatedAt}); err != nil {
			return err
		}
	}
	return e.emit(tx, EventCustomerCreated, c.ID, c)
}

func (e *Engine) checkDID(tx store.Tx, did, self string) error {
	if did == "" {
		return nil
	}
	other, err := tx.CustomerByDID(did)
	switch {
	case err == nil && other.ID != self:
		return fmt.Errorf("%w: %s", customer.ErrDuplicateDID, text.Quote(did))
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	return nil
}

// Customer returns the customer with id.
func (e *Engine) Customer(ctx context.Context, id string) (customer.Customer, error) {
	if err := checkCustomerID(id); err != nil {
		return customer.Customer{}, err
	}
	return view(ctx, e, func(tx store.Tx) (customer.Customer, error) { return getCustomer(tx, id) })
}

// CustomerByDID returns the customer with the external identity did,
// trimmed as it is stored. A did no customer can have (invalid text, longer
// than a stored did may be) is a 422 error naming "did".
func (e *Engine) CustomerByDID(ctx context.Context, did string) (c customer.Customer, err error) {
	did = strings.TrimSpace(did)
	if err := customer.CheckDID(did); err != nil {
		return c, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		c, err = tx.CustomerByDID(did)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: did %s", customer.ErrNotFound, text.Quote(did))
		}
		return err
	})
	return c, err
}

func getCustomer(tx store.CustomerReader, id string) (customer.Customer, error) {
	return billing.Customer(tx, id)
}

// UpdateCustomer changes the given fields of a customer; omitted (nil)
// fields keep their values and UpdatedAt moves.
func (e *Engine) UpdateCustomer(ctx context.Context, id string, p customer.Params) (customer.Customer, error) {
	if err := checkCustomerID(id); err != nil {
		return customer.Customer{}, err
	}
	var out customer.Customer
	err := e.update(ctx, func(tx store.Tx) error {
		c, err := getCustomer(tx, id)
		if err != nil {
			return err
		}
		c, err = c.Apply(p, e.clock.Now())
		if err != nil {
			return err
		}
		if err := e.checkDID(tx, c.DID, c.ID); err != nil {
			return err
		}
		if err := tx.UpdateCustomer(c); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return fmt.Errorf("%w: %s", customer.ErrDuplicateDID, text.Quote(c.DID))
			}
			return err
		}
		out = c
		return e.emit(tx, EventCustomerUpdated, c.ID, c)
	})
	return out, err
}

// CustomerListParams filters ListCustomers; empty filters match every
// customer, and filters combine (AND). Email matches exactly, ignoring
// case as customer.Fold does (Unicode simple case folding: the same answer
// on every store). DID matches the external identity exactly, trimmed.
// NamePrefix keeps the customers whose folded name starts with
// Fold(NamePrefix). Created bounds CreatedAt.
type CustomerListParams struct {
	ListParams
	Email      string    `json:"email,omitempty"`
	DID        string    `json:"did,omitempty"`
	NamePrefix string    `json:"name_prefix,omitempty"`
	Created    TimeRange `json:"created,omitzero"`
}

// ListCustomers lists customers newest first (by CreatedAt). An email,
// did or name_prefix filter that is not storable text (invalid UTF-8,
// NUL), or longer than any stored value, is a 422 error naming it; so is
// a created range whose From is not before its To.
func (e *Engine) ListCustomers(ctx context.Context, p CustomerListParams) (out List[customer.Customer], err error) {
	q := store.CustomerListQuery{Email: strings.TrimSpace(p.Email), DID: strings.TrimSpace(p.DID), NamePrefix: p.NamePrefix}
	if err := customer.CheckEmailFilter(q.Email); err != nil {
		return out, err
	}
	if err := customer.CheckDID(q.DID); err != nil {
		return out, err
	}
	if err := checkNamePrefix(q.NamePrefix); err != nil {
		return out, err
	}
	if q.Created, err = p.Created.check("created"); err != nil {
		return out, err
	}
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	return listView(ctx, e, q.Page, func(c customer.Customer) string { return c.ID },
		func(tx store.Tx) ([]customer.Customer, bool, error) { return tx.QueryCustomers(q) })
}

// CustomerSearchParams is a SearchCustomers query and its page.
type CustomerSearchParams struct {
	ListParams
	Query string `json:"query"`
}

// SearchCustomers lists, newest first, the customers for which every
// term of query is a prefix of one of their search tokens, ignoring case
// (customer.Fold): the words, the whitespace-separated chunks, the email's
// local part and domain and the phone's digits of their name, email,
// phone, id and description (customer.Tokens; a term matches within one
// field). The query has 1 to customer.MaxSearchTerms terms in at most
// customer.MaxSearchLen bytes and no control characters, or it is refused
// with customer.ErrInvalidSearch (422, naming "search"; the error also
// wraps ErrInvalid). It is parsed once per call.
//
// Every store serves it from a token index and plans the page alike
// (store/search.go): a term with at most store.DefaultSearchCandidates
// index entries gives the candidates; when every term is more common than
// that, at most store.DefaultSearchScan customers are read per page, and
// a page whose budget runs out is returned short (even empty) with
// HasMore and a NextCursor to continue from.
func (e *Engine) SearchCustomers(ctx context.Context, p CustomerSearchParams) (out List[customer.Customer], err error) {
	s, err := customer.ParseSearch(p.Query)
	if err != nil {
		// ErrInvalid too, as before the query had bounds.
		return out, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	q := store.CustomerSearchQuery{Search: s}
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		pg, err := tx.SearchCustomers(q)
		if err != nil {
			return listErr(err)
		}
		out = List[customer.Customer]{Data: pg.Customers, HasMore: pg.HasMore, NextCursor: pg.Cursor}
		if out.Data == nil {
			out.Data = []customer.Customer{}
		}
		return nil
	})
	return out, err
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
