package coffer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

// List is one page of a newest-first list.
type List[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
}

// ListParams selects a page: Limit 1..100 (0 means 20), StartingAfter an
// id to continue after (older records), EndingBefore an id to page back
// from (newer records).
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
			return fmt.Errorf("%w: %s", customer.ErrDuplicateDID, c.DID)
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
		return fmt.Errorf("%w: %s", customer.ErrDuplicateDID, did)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	return nil
}

// Customer returns the customer with id.
func (e *Engine) Customer(ctx context.Context, id string) (customer.Customer, error) {
	return view(ctx, e, func(tx store.Tx) (customer.Customer, error) { return getCustomer(tx, id) })
}

// CustomerByDID returns the customer with the external identity did.
func (e *Engine) CustomerByDID(ctx context.Context, did string) (c customer.Customer, err error) {
	err = e.store.View(ctx, func(tx store.Tx) error {
		c, err = tx.CustomerByDID(did)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: did %s", customer.ErrNotFound, did)
		}
		return err
	})
	return c, err
}

func getCustomer(tx store.Tx, id string) (customer.Customer, error) {
	c, err := tx.Customer(id)
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("%w: %s", customer.ErrNotFound, id)
	}
	return c, err
}

// UpdateCustomer changes the given fields of a customer; omitted (nil)
// fields keep their values and UpdatedAt moves.
func (e *Engine) UpdateCustomer(ctx context.Context, id string, p customer.Params) (customer.Customer, error) {
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
				return fmt.Errorf("%w: %s", customer.ErrDuplicateDID, c.DID)
			}
			return err
		}
		out = c
		return e.emit(tx, EventCustomerUpdated, c.ID, c)
	})
	return out, err
}

// ListCustomersParams filters ListCustomers. Email matches exactly,
// ignoring case.
type ListCustomersParams struct {
	ListParams
	Email string `json:"email,omitempty"`
}

// ListCustomers lists customers newest first.
func (e *Engine) ListCustomers(ctx context.Context, p ListCustomersParams) (List[customer.Customer], error) {
	return e.listCustomers(ctx, store.CustomerQuery{Email: strings.TrimSpace(p.Email)}, p.ListParams)
}

// SearchCustomers lists, newest first, the customers whose name, email,
// phone, id or description contain every term of query (case-insensitive).
func (e *Engine) SearchCustomers(ctx context.Context, query string, p ListParams) (List[customer.Customer], error) {
	if strings.TrimSpace(query) == "" {
		return List[customer.Customer]{}, fmt.Errorf("%w: empty search query", ErrInvalid)
	}
	return e.listCustomers(ctx, store.CustomerQuery{Search: query}, p)
}

func (e *Engine) listCustomers(ctx context.Context, q store.CustomerQuery, p ListParams) (out List[customer.Customer], err error) {
	if q.Page, err = p.page(); err != nil {
		return out, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		out.Data, out.HasMore, err = tx.ListCustomers(q)
		return listErr(err)
	})
	return out, err
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
