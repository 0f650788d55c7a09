package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
)

// Customer is Dodo's Customer, with coffer's extra fields after Dodo's.
type Customer struct {
	BusinessID       string    `json:"business_id"`
	CreatedAt        time.Time `json:"created_at"`
	CustomerID       string    `json:"customer_id"`
	Email            string    `json:"email"`
	Name             string    `json:"name"`
	Metadata         Metadata  `json:"metadata"`
	PhoneNumber      *string   `json:"phone_number"`
	BlockedAt        *string   `json:"blocked_at"`
	BlocklistEntryID *string   `json:"blocklist_entry_id"`
	// Extensions.
	DID           string            `json:"did,omitempty"`
	Description   string            `json:"description,omitempty"`
	Address       *customer.Address `json:"address,omitempty"`
	InvoicePrefix string            `json:"invoice_prefix,omitempty"`
	Delinquent    bool              `json:"delinquent"`
	UpdatedAt     time.Time         `json:"updated_at"`
	// TokenBalance is PaymentKit's token_balance: the customer's credit-unit
	// wallets, unit code -> balance in major units as a decimal string
	// (httpapi/units.go). It is in every customer answer: create, retrieve,
	// update, and each item of the lists (GET /customers, search), whose
	// page reads its customers' balances in one store read.
	TokenBalance map[string]string `json:"token_balance,omitzero"`
}

// CustomerLimitedDetails is the customer inside payments, subscriptions
// and refunds.
type CustomerLimitedDetails struct {
	CustomerID  string   `json:"customer_id"`
	Email       string   `json:"email"`
	Name        string   `json:"name"`
	Metadata    Metadata `json:"metadata"`
	PhoneNumber *string  `json:"phone_number"`
}

func (h *Handler) customerOut(c customer.Customer) Customer {
	return Customer{
		BusinessID: h.businessID, CreatedAt: c.CreatedAt, CustomerID: c.ID, Email: c.Email, Name: c.Name,
		Metadata: metadataOut(c.Metadata), PhoneNumber: optString(c.Phone),
		DID: c.DID, Description: c.Description, Address: c.Address, InvoicePrefix: c.InvoicePrefix,
		Delinquent: c.Delinquent, UpdatedAt: c.UpdatedAt,
	}
}

func limitedOut(c customer.Customer) CustomerLimitedDetails {
	return CustomerLimitedDetails{CustomerID: c.ID, Email: c.Email, Name: c.Name,
		Metadata: metadataOut(c.Metadata), PhoneNumber: optString(c.Phone)}
}

// limited reads a customer for an embedded CustomerLimitedDetails.
func (c *call) limited(id string) (CustomerLimitedDetails, error) {
	cu, err := c.h.eng.Customer(c.ctx(), id)
	if err != nil {
		return CustomerLimitedDetails{}, err
	}
	return limitedOut(cu), nil
}

func metadataOut(m map[string]string) Metadata {
	if m == nil {
		return Metadata{}
	}
	return Metadata(m)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// customerCreate is Dodo's CustomerCreateParams plus coffer's fields.
type customerCreate struct {
	Email       *string  `json:"email"`
	Name        *string  `json:"name"`
	Metadata    Metadata `json:"metadata"`
	PhoneNumber *string  `json:"phone_number"`
	// Extensions.
	DID           *string           `json:"did"`
	Description   *string           `json:"description"`
	Address       *customer.Address `json:"address"`
	InvoicePrefix *string           `json:"invoice_prefix"`
}

// customerUpdate is Dodo's CustomerUpdateParams (null = unchanged) plus
// coffer's fields.
type customerUpdate struct {
	customerCreate
	RemoveAddress bool `json:"remove_address"`
}

func (p customerCreate) params() customer.Params {
	return customer.Params{Name: p.Name, Email: p.Email, Phone: p.PhoneNumber, DID: p.DID,
		Description: p.Description, Address: p.Address, Metadata: p.Metadata, InvoicePrefix: p.InvoicePrefix}
}

// Query parameters shared by lists.
var (
	pageQuery = []queryParam{
		{Name: "page_number", Type: "integer", Description: "Zero-based page number (default 0)."},
		{Name: "page_size", Type: "integer", Description: "Items per page, 1..100 (default 10)."},
		{Name: "starting_after", Type: "string", Description: "coffer extension: the id to continue after (older records); replaces page_number."},
		{Name: "ending_before", Type: "string", Description: "coffer extension: the id to page back from (newer records)."},
	}
	createdQuery = []queryParam{
		{Name: "created_at_gte", Type: "date-time", Description: "Created at or after."},
		{Name: "created_at_lte", Type: "date-time", Description: "Created at or before."},
	}
)

func withPage(q ...queryParam) []queryParam { return append(q, pageQuery...) }

func (h *Handler) customerRoutes() {
	h.handle("POST /customers", h.createCustomer, doc{Tag: "customers", Summary: "Create a customer",
		Body: customerCreate{}, Result: Customer{}})
	h.handle("GET /customers", h.listCustomers, doc{Tag: "customers", Summary: "List customers",
		Description: "name matches the beginning of the name, ignoring case (Dodo: partial match). " +
			"Extensions: did (exact), search (free text: every term a word prefix of the name, email, phone, id or description; see the README's Customer search).",
		Result: Page[Customer]{}, Query: withPage(append([]queryParam{
			{Name: "email", Type: "string", Description: "Exact email, ignoring case."},
			{Name: "name", Type: "string", Description: "Name prefix, ignoring case."},
			{Name: "did", Type: "string", Description: "coffer extension: the external identity (DID)."},
			{Name: "search", Type: "string", Description: "coffer extension: free-text search; not combinable with the other filters."},
		}, createdQuery...)...)})
	h.handle("GET /customers/{customer_id}", h.getCustomer, doc{Tag: "customers", Summary: "Retrieve a customer",
		Description: "The path takes a customer id or (coffer extension) a DID.", Result: Customer{}})
	h.handle("PATCH /customers/{customer_id}", h.updateCustomer, doc{Tag: "customers", Summary: "Update a customer",
		Description: "Absent and null fields keep their value; metadata merges (an empty value removes a key).",
		Body:        customerUpdate{}, Result: Customer{}})
	h.handle("GET /customers/{customer_id}/wallets", h.listWallets, doc{Tag: "wallets", Summary: "List a customer's wallets",
		Result: WalletList{}})
	h.handle("POST /customers/{customer_id}/wallets/ledger-entries", h.createLedgerEntry, doc{Tag: "wallets",
		Summary: "Credit or debit a wallet",
		Description: "Returns the updated wallet. A repeated idempotency_key is a 409 ALREADY_PROCESSED (x-should-retry: false). " +
			"Extensions, on a credit only: credit_kind (paid, the default, or granted), priority (lower consumed first; " +
			"default 0, within [-1000, 1000]) and expires_at (RFC 3339, in the future: the unconsumed remainder is then " +
			"debited as \"Expired credit\"); bad terms are a 422 INVALID_ENTRY that changes nothing. An entry with terms " +
			"answers the wallet with ledger_entry (the entry and its terms).",
		Body: ledgerEntryCreate{}, Result: CustomerWallet{}})
	h.handle("GET /customers/{customer_id}/wallets/ledger-entries", h.listLedgerEntries, doc{Tag: "wallets",
		Summary: "List wallet ledger entries", Result: Page[LedgerEntry]{},
		Query: withPage(queryParam{Name: "currency", Type: "string", Description: "Only this currency's wallet."})})
	h.handle("POST /customers/{customer_id}/customer-portal/session", h.portalSession, doc{Tag: "customers",
		Summary: "Create a customer portal session", Result: PortalSession{},
		Query: []queryParam{{Name: "return_url", Type: "string"}, {Name: "send_email", Type: "boolean"}}})
}

func (h *Handler) createCustomer(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	var in customerCreate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.Email == nil || strings.TrimSpace(*in.Email) == "" {
		return nil, invalidParam("email", "email is required")
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return nil, invalidParam("name", "name is required")
	}
	cu, err := h.eng.CreateCustomer(c.ctx(), in.params())
	if err != nil {
		return nil, err
	}
	out := h.customerOut(cu)
	out.TokenBalance = map[string]string{} // a new customer holds no unit yet
	return out, nil
}

// customerParam reads {customer_id} and checks the key may reach it. The
// path takes a customer id or (an extension) a DID.
func (c *call) customerParam() (customer.Customer, error) {
	id, err := c.pathID("customer_id")
	if err != nil {
		return customer.Customer{}, err
	}
	if id == meID {
		// A restricted key (or a portal session) names its own customer.
		if !c.p.Restricted() {
			return customer.Customer{}, errNoCustomer
		}
		id = c.p.CustomerID
	}
	cu, err := c.h.eng.Customer(c.ctx(), id)
	if errors.Is(err, customer.ErrNotFound) || errors.Is(err, coffer.ErrInvalidID) {
		if byDID, derr := c.h.eng.CustomerByDID(c.ctx(), id); derr == nil {
			cu, err = byDID, nil
		}
	}
	if err != nil {
		if c.p.Restricted() && errors.Is(err, customer.ErrNotFound) {
			return customer.Customer{}, errForbidden("this API key is restricted to another customer")
		}
		return customer.Customer{}, err
	}
	if err := c.allowCustomer(cu.ID); err != nil {
		return customer.Customer{}, err
	}
	return cu, nil
}

func (h *Handler) getCustomer(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	return h.withTokens(c, h.customerOut(cu))
}

func (h *Handler) updateCustomer(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	var in customerUpdate
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	p := in.params()
	p.RemoveAddress = in.RemoveAddress
	out, err := h.eng.UpdateCustomer(c.ctx(), cu.ID, p)
	if err != nil {
		return nil, err
	}
	return h.withTokens(c, h.customerOut(out))
}

func (h *Handler) listCustomers(c *call) (any, error) {
	q, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	conv := func(cu customer.Customer) (Customer, error) { return h.customerOut(cu), nil }
	id := func(cu customer.Customer) string { return cu.ID }
	if s := q.str("search"); s != "" {
		for _, f := range []string{"email", "name", "did", "created_at_gte", "created_at_lte"} {
			if q.has(f) {
				return nil, invalidParam(f, "search cannot be combined with "+f)
			}
		}
		if c.p.Restricted() {
			return nil, errForbidden("this API key is restricted to one customer; use GET /customers/me")
		}
		return h.withPageTokens(c)(listPage(c, pr, func(lp coffer.ListParams) (coffer.List[customer.Customer], error) {
			return h.eng.SearchCustomers(c.ctx(), coffer.CustomerSearchParams{ListParams: lp, Query: s})
		}, id, conv))
	}
	gte, err := q.time("created_at_gte")
	if err != nil {
		return nil, err
	}
	lte, err := q.time("created_at_lte")
	if err != nil {
		return nil, err
	}
	p := coffer.CustomerListParams{Email: q.str("email"), DID: q.str("did"), NamePrefix: q.str("name")}
	p.Created.From = gte
	if !lte.IsZero() {
		p.Created.To = lte.Add(time.Nanosecond) // lte is inclusive, To is not
	}
	if c.p.Restricted() {
		// A restricted key lists its own customer only.
		cu, err := h.eng.Customer(c.ctx(), c.p.CustomerID)
		if err != nil {
			return nil, err
		}
		items := []Customer{}
		if pr.number == 0 && !pr.byCursor && customerMatches(cu, p) {
			items = append(items, h.customerOut(cu))
		}
		return h.withPageTokens(c)(Page[Customer]{Items: items}, nil)
	}
	return h.withPageTokens(c)(listPage(c, pr, func(lp coffer.ListParams) (coffer.List[customer.Customer], error) {
		p.ListParams = lp
		return h.eng.ListCustomers(c.ctx(), p)
	}, id, conv))
}

// withPageTokens returns a function that sets the token_balance of every
// item of a customer page (or passes its error on), reading the page's
// balances in one Engine call (one store read, at most 100 customers).
func (h *Handler) withPageTokens(c *call) func(Page[Customer], error) (any, error) {
	return func(page Page[Customer], err error) (any, error) {
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(page.Items))
		for i, it := range page.Items {
			ids[i] = it.CustomerID
		}
		bs, err := h.eng.CustomerBalances(c.ctx(), ids)
		if err != nil {
			return nil, err
		}
		for i := range page.Items {
			page.Items[i].TokenBalance = h.tokenBalance(c.ctx(), bs[page.Items[i].CustomerID])
		}
		return page, nil
	}
}

// customerMatches applies list filters to one customer (restricted keys).
func customerMatches(cu customer.Customer, p coffer.CustomerListParams) bool {
	if p.Email != "" && customer.Fold(p.Email) != customer.Fold(cu.Email) {
		return false
	}
	if p.NamePrefix != "" && !strings.HasPrefix(customer.Fold(cu.Name), customer.Fold(p.NamePrefix)) {
		return false
	}
	if p.DID != "" && strings.TrimSpace(p.DID) != cu.DID {
		return false
	}
	if !p.Created.From.IsZero() && cu.CreatedAt.Before(p.Created.From) {
		return false
	}
	if !p.Created.To.IsZero() && !cu.CreatedAt.Before(p.Created.To) {
		return false
	}
	return true
}

// CustomerWallet is Dodo's CustomerWallet (one per currency) with coffer's
// held and available amounts added.
type CustomerWallet struct {
	Balance    int64     `json:"balance"`
	CreatedAt  time.Time `json:"created_at"`
	Currency   string    `json:"currency"`
	CustomerID string    `json:"customer_id"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Extensions.
	Held         int64 `json:"held"`
	Available    int64 `json:"available"`
	LowThreshold int64 `json:"low_balance_threshold,omitempty"`
	// LedgerEntry, in the answer of a ledger entry that carried credit
	// terms only, is that entry with its terms.
	LedgerEntry *LedgerEntry `json:"ledger_entry,omitempty"`
}

func walletOut(cu customer.Customer, b wallet.Balance) CustomerWallet {
	up := b.UpdatedAt
	if up.IsZero() {
		up = cu.CreatedAt
	}
	return CustomerWallet{Balance: b.Amount, CreatedAt: cu.CreatedAt, Currency: b.Currency, CustomerID: cu.ID,
		UpdatedAt: up, Held: b.Held, Available: b.Available(), LowThreshold: b.LowThreshold}
}

// WalletList is Dodo's WalletListResponse. TotalBalanceUSD sums the
// wallets in USD minor units: USD wallets as they are, others converted at
// the rates given with WithUSDRates; a currency without a rate is left out
// and named in UnconvertedCurrencies (an extension).
type WalletList struct {
	Items                 []CustomerWallet `json:"items"`
	TotalBalanceUSD       int64            `json:"total_balance_usd"`
	UnconvertedCurrencies []string         `json:"unconverted_currencies,omitempty"`
}

func (h *Handler) listWallets(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	bs, err := h.eng.Balances(c.ctx(), cu.ID)
	if err != nil {
		return nil, err
	}
	out := WalletList{Items: make([]CustomerWallet, 0, len(bs))}
	for _, b := range bs {
		out.Items = append(out.Items, walletOut(cu, b))
		if b.Currency == "USD" {
			out.TotalBalanceUSD, err = addChecked(out.TotalBalanceUSD, b.Amount)
			if err != nil {
				return nil, err
			}
			continue
		}
		if b.Amount == 0 {
			continue
		}
		if cents, ok := h.toUSDCents(b.Amount, b.Currency); ok {
			if out.TotalBalanceUSD, err = addChecked(out.TotalBalanceUSD, cents); err != nil {
				return nil, err
			}
			continue
		}
		if !slices.Contains(out.UnconvertedCurrencies, b.Currency) {
			out.UnconvertedCurrencies = append(out.UnconvertedCurrencies, b.Currency)
		}
	}
	return out, nil
}

func addChecked(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, &apiError{status: http.StatusUnprocessableEntity, code: "AMOUNT_OVERFLOW", message: "total overflows int64"}
	}
	return s, nil
}

// ledgerEntryCreate is Dodo's LedgerEntryCreateParams.
type ledgerEntryCreate struct {
	Amount         Int64   `json:"amount"`
	Currency       string  `json:"currency"`
	EntryType      string  `json:"entry_type"`
	IdempotencyKey *string `json:"idempotency_key"`
	Reason         *string `json:"reason"`
	// Extension: links the entry to a record of the caller's.
	ReferenceID *string `json:"reference_id"`
	// Extensions, on a credit only: its terms (credit_kind paid or
	// granted, priority lower consumed first, expires_at RFC 3339).
	CreditKind *string `json:"credit_kind"`
	Priority   Int64   `json:"priority"`
	ExpiresAt  *string `json:"expires_at"`
}

func (h *Handler) createLedgerEntry(c *call) (any, error) {
	// The Engine refuses an unknown customer itself, and a customer is never
	// deleted and its id and created_at never change: once a customer id
	// has been read here, its entries skip the read (and its transaction)
	// and the answer's created_at comes from h.created. A restricted key, a
	// DID, "me" or an id not seen yet take customerParam, with its 403s,
	// 404s and DID lookup.
	id, err := c.pathID("customer_id")
	if err != nil {
		return nil, err
	}
	created, known := h.created.get(id)
	if !known || c.p.Restricted() || id == "me" {
		cu, err := c.customerParam()
		if err != nil {
			return nil, err
		}
		if err := c.operatorOnly(); err != nil {
			return nil, err
		}
		id, created = cu.ID, cu.CreatedAt
		h.created.put(id, created)
	}
	cu := customer.Customer{ID: id, CreatedAt: created}
	var in ledgerEntryCreate
	body, err := c.body()
	if err != nil {
		return nil, err
	}
	if !in.decodeFast(body) {
		in = ledgerEntryCreate{}
		if err := decodeJSON(body, &in); err != nil {
			return nil, err
		}
	}
	if !in.Amount.Set {
		return nil, invalidParam("amount", "amount is required (minor units)")
	}
	if in.Currency == "" {
		return nil, invalidParam("currency", "currency is required")
	}
	switch in.EntryType {
	case "credit", "debit":
	case "":
		return nil, invalidParam("entry_type", "entry_type is required: credit or debit")
	default:
		return nil, invalidParam("entry_type", "entry_type must be credit or debit")
	}
	p := coffer.EntryParams{Amount: in.Amount.V, Currency: in.Currency, Type: ledger.Type(in.EntryType)}
	if in.Reason != nil {
		p.Reason = *in.Reason
	}
	if in.IdempotencyKey != nil {
		p.IdempotencyKey = *in.IdempotencyKey
	}
	if in.ReferenceID != nil {
		p.ReferenceID = *in.ReferenceID
	}
	if err := in.creditTerms(&p); err != nil {
		return nil, err
	}
	res, err := h.eng.CreateEntry(c.ctx(), cu.ID, p)
	if err != nil {
		return nil, err
	}
	if res.Replayed {
		// The seeds' contract: a repeated idempotency_key is a 409, "already
		// processed", and the SDK must not resend it.
		f := false
		return nil, &apiError{status: http.StatusConflict, code: "ALREADY_PROCESSED", param: "idempotency_key",
			message: "a ledger entry with this idempotency_key was already processed (entry " + res.Entry.ID + ")", retry: &f}
	}
	w := walletOut(cu, res.Balance)
	if t, ok := entryTerms(p); ok {
		e := h.entryOut(res.Entry).withTerms(t)
		w.LedgerEntry = &e
	}
	return w, nil
}

// createdCache remembers the CreatedAt of customers by id (both are
// immutable, and customers are never deleted), bounded: when full, an
// arbitrary entry makes room.
type createdCache struct {
	mu sync.RWMutex
	m  map[string]time.Time
}

// createdCacheSize bounds createdCache (about 100 bytes an entry).
const createdCacheSize = 1 << 14

func (cc *createdCache) get(id string) (time.Time, bool) {
	cc.mu.RLock()
	t, ok := cc.m[id]
	cc.mu.RUnlock()
	return t, ok
}

func (cc *createdCache) put(id string, t time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil {
		cc.m = make(map[string]time.Time)
	}
	if _, ok := cc.m[id]; !ok && len(cc.m) >= createdCacheSize {
		for k := range cc.m {
			delete(cc.m, k)
			break
		}
	}
	cc.m[id] = t
}

// LedgerEntry is Dodo's CustomerWalletTransaction with coffer's reference
// type and idempotency key added.
type LedgerEntry struct {
	ID                string    `json:"id"`
	AfterBalance      int64     `json:"after_balance"`
	Amount            int64     `json:"amount"`
	BeforeBalance     int64     `json:"before_balance"`
	BusinessID        string    `json:"business_id"`
	CreatedAt         time.Time `json:"created_at"`
	Currency          string    `json:"currency"`
	CustomerID        string    `json:"customer_id"`
	EventType         string    `json:"event_type"`
	IsCredit          bool      `json:"is_credit"`
	Reason            *string   `json:"reason"`
	ReferenceObjectID *string   `json:"reference_object_id"`
	// Extensions.
	EntryType      string `json:"entry_type"`
	ReferenceType  string `json:"reference_type"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// CreditKind, Priority and ExpiresAt are a credit's terms, given where
	// they are known (the answer of the POST that made it); absent
	// otherwise. GET .../wallets/{currency}/credits lists the open grants.
	CreditKind *string    `json:"credit_kind,omitempty"`
	Priority   *int       `json:"priority,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// eventType maps coffer's reference types onto Dodo's event_type enum:
// a payment's debit is "payment" and its release or compensation credit
// "payment_reversal"; a refund's credit is "refund" (a debit undoing one,
// "refund_reversal"); manual entries are "merchant_adjustment".
func eventType(e ledger.Entry) string {
	switch e.Reference.Type {
	case ledger.RefPayment:
		if e.Type == ledger.Credit {
			return "payment_reversal"
		}
		return "payment"
	case ledger.RefRefund:
		if e.Type == ledger.Debit {
			return "refund_reversal"
		}
		return "refund"
	}
	return "merchant_adjustment"
}

func (h *Handler) entryOut(e ledger.Entry) LedgerEntry {
	return LedgerEntry{ID: e.ID, AfterBalance: e.BalanceAfter, Amount: e.Amount, BeforeBalance: e.BalanceBefore,
		BusinessID: h.businessID, CreatedAt: e.CreatedAt, Currency: e.Currency, CustomerID: e.CustomerID,
		EventType: eventType(e), IsCredit: e.Type == ledger.Credit, Reason: optString(e.Reason),
		ReferenceObjectID: optString(e.Reference.ID), EntryType: string(e.Type),
		ReferenceType: string(e.Reference.Type), IdempotencyKey: publicKey(e.IdempotencyKey)}
}

// publicKey hides the idempotency keys coffer makes for itself (hold:,
// retry:, expire:, ...: coffer.IsEngineKey): only a caller's own key is shown.
func publicKey(k string) string {
	if coffer.IsEngineKey(k) {
		return ""
	}
	return k
}

func (h *Handler) listLedgerEntries(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	q, pr, err := c.listQuery()
	if err != nil {
		return nil, err
	}
	cur := q.str("currency")
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[ledger.Entry], error) {
		return h.eng.ListEntries(c.ctx(), coffer.EntryListParams{ListParams: lp, CustomerID: cu.ID, Currency: cur})
	}, func(e ledger.Entry) string { return e.ID }, func(e ledger.Entry) (LedgerEntry, error) { return h.entryOut(e), nil })
}

// PortalSession is the answer of POST /customers/{id}/customer-portal/session.
type PortalSession struct {
	Link string `json:"link"`
}

func (h *Handler) portalSession(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	q, err := c.query()
	if err != nil {
		return nil, err
	}
	if _, err := q.boolean("send_email"); err != nil {
		return nil, err
	}
	ret := q.str("return_url")
	if ret != "" {
		if err := checkURL("return_url", ret); err != nil {
			return nil, err
		}
	}
	if h.portalLink == nil {
		return nil, &apiError{status: http.StatusNotImplemented, code: "PORTAL_NOT_CONFIGURED",
			message: "no customer portal is configured for this server"}
	}
	link, err := h.portalLink(c.ctx(), cu.ID, ret)
	if err != nil {
		return nil, err
	}
	return PortalSession{Link: link}, nil
}

// A customer page fits one CustomerBalances call (compile-time check: the
// constant would be negative otherwise).
const _ uint = coffer.MaxBalancesBatch - MaxPageSize
