package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
)

// coffer's extension routes: none of them collides with a Dodo route.
// /customers/me and /customers/search are literal segments, which Go's
// ServeMux prefers over the {customer_id} wildcard, so neither "me" nor
// "search" can be looked up as a customer DID on those two paths.

// meID is the customer_id that names a restricted key's own customer on
// coffer's extension routes under /customers/{customer_id}/.
const meID = "me"

// errNoCustomer answers /customers/me for a key that is not restricted.
var errNoCustomer = &apiError{status: http.StatusUnprocessableEntity, code: "KEY_NOT_RESTRICTED",
	message: "this API key is not restricted to a customer, so it has no \"me\"; use GET /customers/{customer_id}"}

// me is the restricted key's own customer (422 KEY_NOT_RESTRICTED for an
// unrestricted key); every {customer_id} also takes "me" (customerParam).
func (c *call) me() (customer.Customer, error) {
	if !c.p.Restricted() {
		return customer.Customer{}, errNoCustomer
	}
	return c.h.eng.Customer(c.ctx(), c.p.CustomerID)
}

// Balance is one currency of a customer's wallet: the posted balance, the
// part held by charges in flight and what is available.
type Balance struct {
	CustomerID string `json:"customer_id"`
	Currency   string `json:"currency"`
	// Balance is the posted balance in minor units (Dodo's wallet balance).
	Balance   int64 `json:"balance"`
	Held      int64 `json:"held"`
	Available int64 `json:"available"`
	// LowBalanceThreshold is the customer's own threshold (0: the engine's
	// per-currency default); LowBalance is set while the balance is below
	// the threshold in force.
	LowBalanceThreshold int64     `json:"low_balance_threshold"`
	LowBalance          bool      `json:"low_balance"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func balanceOut(b wallet.Balance) Balance {
	return Balance{CustomerID: b.CustomerID, Currency: b.Currency, Balance: b.Amount, Held: b.Held, Available: b.Available(),
		LowBalanceThreshold: b.LowThreshold, LowBalance: b.Low, UpdatedAt: b.UpdatedAt}
}

// BalanceList is the answer of GET /customers/{id}/balances.
type BalanceList struct {
	Items []Balance `json:"items"`
}

// lowBalanceBody is the body of PUT .../low-balance-threshold.
type lowBalanceBody struct {
	// Threshold in the currency's minor units; 0 falls back to the engine's
	// per-currency threshold.
	Threshold Int64 `json:"threshold"`
}

// SpendingReport summarises a wallet's ledger over a period.
type SpendingReport struct {
	CustomerID string    `json:"customer_id"`
	Currency   string    `json:"currency"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	// OpeningBalance is the balance at from, ClosingBalance at to:
	// opening + credited - debited == closing.
	OpeningBalance int64 `json:"opening_balance"`
	ClosingBalance int64 `json:"closing_balance"`
	Credited       int64 `json:"credited"`
	Debited        int64 `json:"debited"`
	Entries        int   `json:"entries"`
	// ByReference splits the money moved by what it refers to (manual,
	// payment, refund).
	ByReference []ReferenceTotal `json:"by_reference"`
	// Days is the balance trend: one point per UTC day of the period.
	Days []DayBalance `json:"days"`
}

// ReferenceTotal is the money moved by one kind of ledger reference.
type ReferenceTotal struct {
	Type     string `json:"type"`
	Credited int64  `json:"credited"`
	Debited  int64  `json:"debited"`
}

// DayBalance is one UTC day of a balance trend.
type DayBalance struct {
	Day            time.Time `json:"day"`
	Credited       int64     `json:"credited"`
	Debited        int64     `json:"debited"`
	ClosingBalance int64     `json:"closing_balance"`
}

func reportOut(r coffer.SpendingReport) SpendingReport {
	out := SpendingReport{CustomerID: r.CustomerID, Currency: r.Currency, From: r.From, To: r.To,
		OpeningBalance: r.OpeningBalance, ClosingBalance: r.ClosingBalance, Credited: r.Credited, Debited: r.Debited,
		Entries: r.Entries, ByReference: make([]ReferenceTotal, 0, len(r.ByReference)), Days: make([]DayBalance, 0, len(r.Days))}
	for _, t := range r.ByReference {
		out.ByReference = append(out.ByReference, ReferenceTotal{Type: refTypeOut(t.Type), Credited: t.Credited, Debited: t.Debited})
	}
	for _, d := range r.Days {
		out.Days = append(out.Days, DayBalance{Day: d.Day, Credited: d.Credited, Debited: d.Debited, ClosingBalance: d.Closing})
	}
	return out
}

func refTypeOut(t ledger.RefType) string {
	if t == "" {
		return "manual"
	}
	return string(t)
}

// maxReportPeriod bounds a spending report's default period.
const defaultReportPeriod = 30 * 24 * time.Hour

func (h *Handler) extraRoutes() {
	h.handle("GET /customers/me", h.getMe, doc{Tag: "customers", Extension: true,
		Summary: "Retrieve the customer of a restricted API key",
		Description: "PaymentKit's customers.me. An unrestricted (operator) key has no customer: 422 KEY_NOT_RESTRICTED. " +
			"On the other coffer extension routes under /customers/{customer_id}/ a restricted key may write \"me\".",
		Result: Customer{}})
	h.handle("GET /customers/search", h.searchCustomers, doc{Tag: "customers", Extension: true,
		Summary: "Search customers",
		Description: "PaymentKit's customers.search: every term of query must be a word prefix (ignoring case) of the " +
			"name, email, phone, id or description. Answers a page ({items, has_more, next_cursor}), not PaymentKit's " +
			"{count, list}. Operator-only.",
		Result: Page[Customer]{}, Query: withPage(queryParam{Name: "query", Type: "string", Description: "The search text (required)."})})
	h.handle("GET /customers/{customer_id}/balances", h.getBalances, doc{Tag: "wallets", Extension: true,
		Summary:     "List a customer's balances with held and available amounts",
		Description: "One entry per enabled currency, in minor units. customer_id may be \"me\" for a restricted key.",
		Result:      BalanceList{}})
	h.handle("PUT /customers/{customer_id}/wallets/{currency}/low-balance-threshold", h.setLowBalanceThreshold,
		doc{Tag: "wallets", Extension: true, Summary: "Set a customer's low-balance threshold in one currency",
			Description: "threshold in minor units (0: the engine's default). A wallet.balance_low event fires once " +
				"each time the balance crosses below it. Operator-only.",
			Body: lowBalanceBody{}, Result: Balance{}})
	h.handle("GET /customers/{customer_id}/spending-report", h.spendingReport, doc{Tag: "wallets", Extension: true,
		Summary: "Report a wallet's spending and balance trend over a period",
		Description: "The currency's ledger entries with from <= created_at < to (UTC), at most 366 days: totals by " +
			"reference type and one balance point per day. customer_id may be \"me\" for a restricted key.",
		Result: SpendingReport{}, Query: []queryParam{
			{Name: "currency", Type: "string", Description: "The wallet's currency (required)."},
			{Name: "from", Type: "date-time", Description: "Start of the period, inclusive (default: 30 days before to)."},
			{Name: "to", Type: "date-time", Description: "End of the period, exclusive (default: now)."},
		}})
	h.creditRoutes()
	h.purchaseRoutes()
	h.unitRoutes()  // units.go
	h.usageRoutes() // usage.go
	h.invoiceRoutes()
	h.topUpRoutes()
	h.eventRoutes()
	h.overdueRoutes()
}

func (h *Handler) getMe(c *call) (any, error) {
	cu, err := c.me()
	if err != nil {
		return nil, err
	}
	return h.customerOut(cu), nil
}

func (h *Handler) searchCustomers(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	q, err := c.query()
	if err != nil {
		return nil, err
	}
	s := q.str("query")
	if strings.TrimSpace(s) == "" {
		return nil, invalidParam("query", "query is required: the text to search for")
	}
	pr, err := c.pageParams(q)
	if err != nil {
		return nil, err
	}
	return listPage(c, pr, func(lp coffer.ListParams) (coffer.List[customer.Customer], error) {
		return h.eng.SearchCustomers(c.ctx(), coffer.CustomerSearchParams{ListParams: lp, Query: s})
	}, func(cu customer.Customer) string { return cu.ID }, func(cu customer.Customer) (Customer, error) { return h.customerOut(cu), nil })
}

func (h *Handler) getBalances(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	bs, err := h.eng.Balances(c.ctx(), cu.ID)
	if err != nil {
		return nil, err
	}
	out := BalanceList{Items: make([]Balance, 0, len(bs))}
	for _, b := range bs {
		out.Items = append(out.Items, balanceOut(b))
	}
	return out, nil
}

func (h *Handler) setLowBalanceThreshold(c *call) (any, error) {
	if err := c.operatorOnly(); err != nil {
		return nil, err
	}
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	cur := c.r.PathValue("currency")
	if !walletCodeShape(cur) {
		return nil, invalidParam("currency", "currency must be an ISO-4217 code such as USD or a unit code such as api_calls")
	}
	var in lowBalanceBody
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if !in.Threshold.Set {
		return nil, invalidParam("threshold", "threshold is required (minor units; 0 for the default)")
	}
	if in.Threshold.V < 0 {
		return nil, invalidParam("threshold", "threshold must not be negative")
	}
	b, err := h.eng.SetLowBalanceThreshold(c.ctx(), cu.ID, coffer.LowBalanceParams{Currency: walletCode(cur),
		Threshold: in.Threshold.V})
	if err != nil {
		return nil, err
	}
	return balanceOut(b), nil
}

func (h *Handler) spendingReport(c *call) (any, error) {
	cu, err := c.customerParam()
	if err != nil {
		return nil, err
	}
	q, err := c.query()
	if err != nil {
		return nil, err
	}
	cur := q.str("currency")
	if cur == "" {
		return nil, invalidParam("currency", "currency is required")
	}
	from, err := q.time("from")
	if err != nil {
		return nil, err
	}
	to, err := q.time("to")
	if err != nil {
		return nil, err
	}
	if to.IsZero() {
		to = h.now().UTC()
	}
	if from.IsZero() {
		from = to.Add(-defaultReportPeriod)
	}
	if !from.Before(to) {
		return nil, invalidParam("from", "from must be before to")
	}
	r, err := h.eng.SpendingReport(c.ctx(), cu.ID, coffer.SpendingReportParams{Currency: walletCode(cur), From: from, To: to})
	if err != nil {
		return nil, err
	}
	return reportOut(r), nil
}
