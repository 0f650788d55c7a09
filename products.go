package coffer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// ProductUpdateParams changes a product: a nil field keeps its value.
// Metadata merges as a customer's does (an empty value removes a key). A
// product's price is the default of the subscriptions created after the
// change; subscriptions keep the price they were created with.
type ProductUpdateParams struct {
	Name        *string           `json:"name,omitempty"`
	Description *string           `json:"description,omitempty"`
	Price       *int64            `json:"price,omitempty"`
	Currency    *string           `json:"currency,omitempty"`
	TaxCategory *string           `json:"tax_category,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// UpdateProduct changes a catalog product (see ProductUpdateParams). A
// product's idempotency key and one-time flag do not change.
func (e *Engine) UpdateProduct(ctx context.Context, id string, p ProductUpdateParams) (subscription.Product, error) {
	if err := checkID(subscription.ErrInvalid, "product_id", id); err != nil {
		return subscription.Product{}, err
	}
	var out subscription.Product
	err := e.update(ctx, func(tx store.Tx) error {
		prod, err := tx.Product(id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", subscription.ErrProductNotFound, text.Quote(id))
		} else if err != nil {
			return err
		}
		if p.Name != nil {
			prod.Name = strings.TrimSpace(*p.Name)
			if prod.Name == "" {
				return &customer.FieldError{Field: "name", Err: fmt.Errorf("%w: product name is required", subscription.ErrInvalid)}
			}
			if err := checkText(subscription.ErrInvalid, "name", prod.Name, maxTextLen); err != nil {
				return err
			}
		}
		if p.Description != nil {
			prod.Description = *p.Description
			if err := checkText(subscription.ErrInvalid, "description", prod.Description, maxTextLen); err != nil {
				return err
			}
		}
		if p.Price != nil {
			if *p.Price < 0 {
				return subscription.ErrInvalidPrice
			}
			prod.Price = *p.Price
		}
		if p.Currency != nil {
			c, err := e.currencies.Check(*p.Currency)
			if err != nil {
				return err
			}
			prod.Currency = c.Code
		}
		if p.TaxCategory != nil {
			prod.TaxCategory = *p.TaxCategory
		}
		if len(p.Metadata) > 0 {
			m := make(map[string]string, len(prod.Metadata)+len(p.Metadata))
			for k, v := range prod.Metadata {
				m[k] = v
			}
			for k, v := range p.Metadata {
				if v == "" {
					delete(m, k)
				} else {
					m[k] = v
				}
			}
			if len(m) == 0 {
				m = nil
			}
			prod.Metadata = m
		}
		if err := checkProductExtras(prod.TaxCategory, prod.Metadata); err != nil {
			return err
		}
		prod.UpdatedAt = e.clock.Now()
		out = prod
		return tx.PutProduct(prod)
	})
	if err != nil {
		return subscription.Product{}, err
	}
	return out, nil
}

// checkProductExtras validates a product's tax category and metadata.
func checkProductExtras(taxCategory string, meta map[string]string) error {
	if len(taxCategory) > 64 || strings.IndexFunc(taxCategory, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) >= 0 {
		return &customer.FieldError{Field: "tax_category",
			Err: fmt.Errorf("%w: tax_category must be at most 64 lower-case letters, digits and _", subscription.ErrInvalid)}
	}
	return customer.ValidateMetadata(meta)
}
