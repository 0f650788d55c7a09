package httpapi

import (
	"slices"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/subscription"
)

// Dodo's TaxCategory values.
var taxCategories = []string{"digital_products", "saas", "e_book", "edtech", "live_tutoring"}

// productTaxCategory is the tax_category of a product created without
// one (through the Engine; the API requires it).
const productTaxCategory = "saas"

// Price is Dodo's Price as coffer answers it: a one_time_price for a
// one-time product, else a recurring_price of the product's price and
// currency billed every 1 Month (coffer bills on demand, never on a
// calendar; the interval is nominal, and a usage_based_price reads back as
// this recurring price of its fixed_price).
type Price struct {
	Type                       string `json:"type"`
	Currency                   string `json:"currency"`
	Price                      int64  `json:"price"`
	Discount                   int64  `json:"discount"`
	DiscountBps                *int64 `json:"discount_bps"`
	PaymentFrequencyCount      int    `json:"payment_frequency_count,omitempty"`
	PaymentFrequencyInterval   string `json:"payment_frequency_interval,omitempty"`
	SubscriptionPeriodCount    int    `json:"subscription_period_count,omitempty"`
	SubscriptionPeriodInterval string `json:"subscription_period_interval,omitempty"`
	PurchasingPowerParity      bool   `json:"purchasing_power_parity"`
	TaxInclusive               *bool  `json:"tax_inclusive"`
	TrialPeriodDays            int    `json:"trial_period_days,omitempty"`
	TrialAmount                *int64 `json:"trial_amount"`
}

// LicenseKeyDuration is Dodo's license key duration (always null here).
type LicenseKeyDuration struct {
	Count    int    `json:"count"`
	Interval string `json:"interval"`
}

// DigitalProductDelivery is Dodo's digital delivery (always null here).
type DigitalProductDelivery struct {
	ExternalURL  *string `json:"external_url"`
	Instructions *string `json:"instructions"`
}

// Product is Dodo's Product; coffer's extension fields follow.
type Product struct {
	BrandID                     string                  `json:"brand_id"`
	BusinessID                  string                  `json:"business_id"`
	CreatedAt                   time.Time               `json:"created_at"`
	CreditEntitlements          []noItems               `json:"credit_entitlements"`
	Entitlements                []noItems               `json:"entitlements"`
	IsRecurring                 bool                    `json:"is_recurring"`
	LicenseKeyEnabled           bool                    `json:"license_key_enabled"`
	Metadata                    Metadata                `json:"metadata"`
	Price                       Price                   `json:"price"`
	ProductID                   string                  `json:"product_id"`
	TaxCategory                 string                  `json:"tax_category"`
	UpdatedAt                   time.Time               `json:"updated_at"`
	Addons                      []string                `json:"addons" null:"true"`
	Description                 *string                 `json:"description"`
	DigitalProductDelivery      *DigitalProductDelivery `json:"digital_product_delivery"`
	Image                       *string                 `json:"image"`
	LicenseKeyActivationMessage *string                 `json:"license_key_activation_message"`
	LicenseKeyActivationsLimit  *int                    `json:"license_key_activations_limit"`
	LicenseKeyDuration          *LicenseKeyDuration     `json:"license_key_duration"`
	Name                        *string                 `json:"name"`
	PricingMode                 *string                 `json:"pricing_mode"`
	ProductCollectionID         *string                 `json:"product_collection_id"`
	// Extension.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// ProductListItem is Dodo's ProductListResponse.
type ProductListItem struct {
	BusinessID   string    `json:"business_id"`
	CreatedAt    time.Time `json:"created_at"`
	Entitlements []noItems `json:"entitlements"`
	IsRecurring  bool      `json:"is_recurring"`
	Metadata     Metadata  `json:"metadata"`
	ProductID    string    `json:"product_id"`
	TaxCategory  string    `json:"tax_category"`
	UpdatedAt    time.Time `json:"updated_at"`
	Currency     *string   `json:"currency"`
	Description  *string   `json:"description"`
	Image        *string   `json:"image"`
	Name         *string   `json:"name"`
	Price        *int64    `json:"price"`
	PriceDetail  *Price    `json:"price_detail"`
	PricingMode  *string   `json:"pricing_mode"`
	TaxInclusive *bool     `json:"tax_inclusive"`
	// Extension.
	BrandID string `json:"brand_id"`
}

func priceOut(p subscription.Product) Price {
	if p.OneTime {
		return Price{Type: "one_time_price", Currency: p.Currency, Price: p.Price}
	}
	return Price{Type: "recurring_price", Currency: p.Currency, Price: p.Price, PaymentFrequencyCount: 1,
		PaymentFrequencyInterval: "Month", SubscriptionPeriodCount: 1, SubscriptionPeriodInterval: "Month"}
}

func taxCategoryOut(p subscription.Product) string {
	if p.TaxCategory == "" {
		return productTaxCategory
	}
	return p.TaxCategory
}

func updatedOut(p subscription.Product) time.Time {
	if p.UpdatedAt.IsZero() {
		return p.CreatedAt
	}
	return p.UpdatedAt
}

func (h *Handler) productOut(p subscription.Product) Product {
	name := p.Name
	return Product{
		BrandID: h.businessID, BusinessID: h.businessID, CreatedAt: p.CreatedAt, CreditEntitlements: []noItems{},
		Entitlements: []noItems{}, IsRecurring: !p.OneTime, Metadata: metadataOut(p.Metadata), Price: priceOut(p),
		ProductID: p.ID, TaxCategory: taxCategoryOut(p), UpdatedAt: updatedOut(p), Description: optString(p.Description),
		Name: &name, IdempotencyKey: p.IdempotencyKey,
	}
}

func (h *Handler) productListOut(p subscription.Product) ProductListItem {
	name, cur, price, detail := p.Name, p.Currency, p.Price, priceOut(p)
	return ProductListItem{
		BusinessID: h.businessID, CreatedAt: p.CreatedAt, Entitlements: []noItems{}, IsRecurring: !p.OneTime,
		Metadata: metadataOut(p.Metadata), ProductID: p.ID, TaxCategory: taxCategoryOut(p), UpdatedAt: updatedOut(p),
		Currency: &cur, Description: optString(p.Description), Name: &name, Price: &price, PriceDetail: &detail,
		BrandID: h.businessID,
	}
}

// priceIn is Dodo's Price union as a request: one struct with every
// variant's fields, checked against its type.
type priceIn struct {
	Type                       *string `json:"type"`
	Currency                   *string `json:"currency"`
	Price                      Int64   `json:"price"`
	FixedPrice                 Int64   `json:"fixed_price"`
	Discount                   Int64   `json:"discount"`
	DiscountBps                Int64   `json:"discount_bps"`
	PayWhatYouWant             *bool   `json:"pay_what_you_want"`
	PurchasingPowerParity      *bool   `json:"purchasing_power_parity"`
	SuggestedPrice             Int64   `json:"suggested_price"`
	TaxInclusive               *bool   `json:"tax_inclusive"`
	PaymentFrequencyCount      Int64   `json:"payment_frequency_count"`
	PaymentFrequencyInterval   *string `json:"payment_frequency_interval"`
	SubscriptionPeriodCount    Int64   `json:"subscription_period_count"`
	SubscriptionPeriodInterval *string `json:"subscription_period_interval"`
	TrialPeriodDays            Int64   `json:"trial_period_days"`
	TrialAmount                Int64   `json:"trial_amount"`
	TrialApplyDiscounts        *bool   `json:"trial_apply_discounts"`
	// Meters are usage_based_price's meters (coffer meters nothing).
	Meters []noItems `json:"meters"`
}

// productCreate is Dodo's ProductCreateParams plus coffer's
// idempotency_key. Fields coffer cannot keep are refused when set to
// anything that would change billing (see check).
type productCreate struct {
	Name                        *string                 `json:"name"`
	Price                       *priceIn                `json:"price"`
	TaxCategory                 *string                 `json:"tax_category"`
	Addons                      []string                `json:"addons" null:"true"`
	BrandID                     *string                 `json:"brand_id"`
	Description                 *string                 `json:"description"`
	Metadata                    Metadata                `json:"metadata"`
	CreditEntitlements          []noItems               `json:"credit_entitlements"`
	Entitlements                []noItems               `json:"entitlements"`
	DigitalProductDelivery      *DigitalProductDelivery `json:"digital_product_delivery"`
	LicenseKeyEnabled           *bool                   `json:"license_key_enabled"`
	LicenseKeyActivationMessage *string                 `json:"license_key_activation_message"`
	LicenseKeyActivationsLimit  Int64                   `json:"license_key_activations_limit"`
	LicenseKeyDuration          *LicenseKeyDuration     `json:"license_key_duration"`
	PricingMode                 *string                 `json:"pricing_mode"`
	// Extension.
	IdempotencyKey *string `json:"idempotency_key"`
}

func checkInterval(param string, v *string, required bool) error {
	if v == nil {
		if required {
			return invalidParam(param, param+" is required (Day, Week, Month or Year)")
		}
		return nil
	}
	if !slices.Contains(timeIntervals, *v) {
		return invalidParam(param, param+" must be one of Day, Week, Month, Year (capitalised)")
	}
	return nil
}

func checkCount(param string, v Int64, required bool) error {
	if !v.Set {
		if required {
			return invalidParam(param, param+" is required")
		}
		return nil
	}
	if v.V < 1 {
		return invalidParam(param, param+" must be at least 1")
	}
	return nil
}

// params validates the request and returns coffer's ProductParams.
func (in productCreate) params(businessID string) (coffer.ProductParams, error) {
	var p coffer.ProductParams
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return p, invalidParam("name", "name is required")
	}
	if in.TaxCategory == nil {
		return p, invalidParam("tax_category", "tax_category is required: "+strings.Join(taxCategories, ", "))
	}
	if !slices.Contains(taxCategories, *in.TaxCategory) {
		return p, invalidParam("tax_category", "tax_category must be one of "+strings.Join(taxCategories, ", "))
	}
	if in.Price == nil {
		return p, invalidParam("price", "price is required")
	}
	amount, oneTime, err := in.Price.check()
	if err != nil {
		return p, err
	}
	switch {
	case len(in.Addons) > 0:
		return p, unsupported("ADDONS_UNSUPPORTED", "addons", "coffer has no add-ons")
	case len(in.CreditEntitlements) > 0, len(in.Entitlements) > 0:
		return p, unsupported("ENTITLEMENTS_UNSUPPORTED", "entitlements", "coffer has no entitlements")
	case in.DigitalProductDelivery != nil:
		return p, unsupported("DIGITAL_DELIVERY_UNSUPPORTED", "digital_product_delivery", "coffer delivers no digital products")
	case in.LicenseKeyEnabled != nil && *in.LicenseKeyEnabled, in.LicenseKeyActivationsLimit.Set, in.LicenseKeyDuration != nil,
		in.LicenseKeyActivationMessage != nil:
		return p, unsupported("LICENSE_KEYS_UNSUPPORTED", "license_key_enabled", "coffer issues no license keys")
	case in.PricingMode != nil && *in.PricingMode != "by_currency":
		return p, unsupported("PRICING_MODE_UNSUPPORTED", "pricing_mode", "coffer prices by currency only (pricing_mode by_currency or null)")
	case in.BrandID != nil && *in.BrandID != businessID:
		return p, invalidParam("brand_id", "brand_id must be "+businessID+" (coffer has one brand) or null")
	}
	p = coffer.ProductParams{Name: *in.Name, Price: amount, Currency: *in.Price.Currency, OneTime: oneTime,
		TaxCategory: *in.TaxCategory, Metadata: in.Metadata}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.IdempotencyKey != nil {
		p.IdempotencyKey = *in.IdempotencyKey
	}
	return p, nil
}

// check validates a Dodo price and returns coffer's amount and whether it
// is a one-time price.
func (pr *priceIn) check() (int64, bool, error) {
	if pr.Type == nil {
		return 0, false, invalidParam("price.type", "price.type is required: one_time_price, recurring_price or usage_based_price")
	}
	if pr.Currency == nil || *pr.Currency == "" {
		return 0, false, invalidParam("price.currency", "price.currency is required")
	}
	var amount Int64
	recurring := true
	switch *pr.Type {
	case "one_time_price":
		amount, recurring = pr.Price, false
		if !amount.Set {
			return 0, false, invalidParam("price.price", "price.price is required (minor units)")
		}
		if pr.SuggestedPrice.Set {
			return 0, false, unsupported("PAY_WHAT_YOU_WANT_UNSUPPORTED", "price.suggested_price", "coffer has no pay-what-you-want prices")
		}
	case "recurring_price":
		amount = pr.Price
		if !amount.Set {
			return 0, false, invalidParam("price.price", "price.price is required (minor units)")
		}
	case "usage_based_price":
		amount = pr.FixedPrice
		if !amount.Set {
			return 0, false, invalidParam("price.fixed_price", "price.fixed_price is required (minor units)")
		}
		if len(pr.Meters) > 0 {
			return 0, false, unsupported("USAGE_METERS_UNSUPPORTED", "price.meters",
				"coffer meters no usage: charge measured usage with POST /subscriptions/{id}/charge instead")
		}
	default:
		return 0, false, invalidParam("price.type", "price.type must be one_time_price, recurring_price or usage_based_price")
	}
	if amount.V < 0 {
		return 0, false, invalidParam("price.price", "price must be >= 0 (minor units)")
	}
	if recurring {
		for _, f := range []struct {
			param string
			v     Int64
		}{{"price.payment_frequency_count", pr.PaymentFrequencyCount}, {"price.subscription_period_count", pr.SubscriptionPeriodCount}} {
			if err := checkCount(f.param, f.v, true); err != nil {
				return 0, false, err
			}
		}
		if err := checkInterval("price.payment_frequency_interval", pr.PaymentFrequencyInterval, true); err != nil {
			return 0, false, err
		}
		if err := checkInterval("price.subscription_period_interval", pr.SubscriptionPeriodInterval, true); err != nil {
			return 0, false, err
		}
	}
	// Fields that would change what a customer pays are refused rather
	// than dropped.
	switch {
	case pr.Discount.Set && pr.Discount.V != 0, pr.DiscountBps.Set && pr.DiscountBps.V != 0:
		return 0, false, unsupported("DISCOUNTS_UNSUPPORTED", "price.discount", "coffer applies no discounts; charge the discounted price")
	case pr.PayWhatYouWant != nil && *pr.PayWhatYouWant:
		return 0, false, unsupported("PAY_WHAT_YOU_WANT_UNSUPPORTED", "price.pay_what_you_want", "coffer has no pay-what-you-want prices")
	case pr.PurchasingPowerParity != nil && *pr.PurchasingPowerParity:
		return 0, false, unsupported("PURCHASING_POWER_PARITY_UNSUPPORTED", "price.purchasing_power_parity", "coffer has no purchasing power parity pricing")
	case pr.TrialPeriodDays.Set && pr.TrialPeriodDays.V != 0, pr.TrialAmount.Set:
		return 0, false, unsupported("TRIALS_UNSUPPORTED", "price.trial_period_days", "coffer has no trial periods")
	}
	return amount.V, !recurring, nil
}

// productUpdate is Dodo's ProductUpdateParams (every field optional and
// nullable; null keeps the value).
type productUpdate struct {
	Name        *string  `json:"name"`
	Description *string  `json:"description"`
	Price       *priceIn `json:"price"`
	TaxCategory *string  `json:"tax_category"`
	Addons      []string `json:"addons"`
	BrandID     *string  `json:"brand_id"`
	Metadata    Metadata `json:"metadata"`
	ImageID     *string  `json:"image_id"`
}

func (h *Handler) productRoutes() {
	h.handle("POST /products", h.createProduct, doc{Tag: "products", Summary: "Create a product",
		Description: "Dodo's ProductCreateParams. price is a one_time_price (a product sold once: subscriptions refuse it), a recurring_price " +
			"or a usage_based_price (its fixed_price is the price); meters, discounts, trials, add-ons, entitlements, license keys, " +
			"pay-what-you-want, purchasing power parity and pricing_mode by_country are refused with a 422 naming them. tax_category " +
			"and metadata are kept (coffer computes no tax). The frequency and period fields are checked and not kept (coffer bills on demand). " +
			"Extension: idempotency_key makes the create safe to repeat (same key and params: the same product; other params: 409).",
		Body: productCreate{}, Result: Product{}})
	h.handle("GET /products/{product_id}", h.getProduct, doc{Tag: "products", Summary: "Retrieve a product", Result: Product{}})
	h.handle("PATCH /products/{product_id}", h.updateProduct, doc{Tag: "products", Summary: "Update a product",
		Description: "Answers 200 with an empty body (as Dodo). name, description, price (of the same type), tax_category and " +
			"metadata (merged; an empty value removes a key) change; a new price is the default of subscriptions created afterwards. " +
			"addons and image_id are refused (422).",
		Body: productUpdate{}})
	h.handle("GET /products", h.listProducts, doc{Tag: "products", Summary: "List products",
		Description: "archived=true lists nothing (coffer archives no product); recurring is not supported as a filter (422); " +
			"brand_id other than the business id lists nothing.",
		Result: Page[ProductListItem]{}, Query: withPage(
			queryParam{Name: "archived", Type: "boolean"}, queryParam{Name: "brand_id", Type: "string"},
			queryParam{Name: "recurring", Type: "boolean"})})
}

func (h *Handler) createProduct(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	var in productCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	p, err := in.params(h.businessID)
	if err != nil {
		return nil, err
	}
	prod, err := h.eng.CreateProduct(c.ctx(), p)
	if err != nil {
		return nil, err
	}
	return h.productOut(prod), nil
}

func (c *call) productParam() (subscription.Product, error) {
	id, err := c.pathID("product_id")
	if err != nil {
		return subscription.Product{}, err
	}
	return c.h.eng.Product(c.ctx(), id)
}

func (h *Handler) getProduct(c *call) (any, error) {
	p, err := c.productParam()
	if err != nil {
		return nil, err
	}
	return h.productOut(p), nil
}

func (h *Handler) updateProduct(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	p, err := c.productParam()
	if err != nil {
		return nil, err
	}
	var in productUpdate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var up coffer.ProductUpdateParams
	up.Name, up.Description, up.Metadata = in.Name, in.Description, in.Metadata
	if in.Price != nil {
		amount, oneTime, err := in.Price.check()
		if err != nil {
			return nil, err
		}
		if oneTime != p.OneTime {
			return nil, invalidParam("price.type", "a product's price type does not change (one_time_price vs recurring); create a new product")
		}
		up.Price, up.Currency = &amount, in.Price.Currency
	}
	if in.TaxCategory != nil {
		if !slices.Contains(taxCategories, *in.TaxCategory) {
			return nil, invalidParam("tax_category", "tax_category must be one of "+strings.Join(taxCategories, ", "))
		}
		up.TaxCategory = in.TaxCategory
	}
	switch {
	case len(in.Addons) > 0:
		return nil, unsupported("ADDONS_UNSUPPORTED", "addons", "coffer has no add-ons")
	case in.BrandID != nil && *in.BrandID != h.businessID:
		return nil, invalidParam("brand_id", "brand_id must be "+h.businessID+" (coffer has one brand) or null")
	case in.ImageID != nil:
		return nil, unsupported("PRODUCT_IMAGES_UNSUPPORTED", "image_id", "coffer keeps no product images")
	}
	if _, err := h.eng.UpdateProduct(c.ctx(), p.ID, up); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (h *Handler) listProducts(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	q, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	archived, err := q.boolean("archived")
	if err != nil {
		return nil, err
	}
	recurring, err := q.boolean("recurring")
	if err != nil {
		return nil, err
	}
	created, err := createdRange(q)
	if err != nil {
		return nil, err
	}
	if recurring != nil {
		return nil, unsupportedFilter("recurring", "coffer's product list cannot filter by price type")
	}
	if (archived != nil && *archived) || !c.brandMatches(q) {
		return emptyPage[ProductListItem](), nil
	}
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[subscription.Product], error) {
		return h.eng.ListProducts(c.ctx(), coffer.ProductListParams{ListParams: lp, Created: created})
	}, func(p subscription.Product) string { return p.ID },
		func(p subscription.Product) (ProductListItem, error) { return h.productListOut(p), nil })
}
