package postgres

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// The account-wide lists (store/query.go). Each is one index range scan:
// migration 0004 indexes every filter combination as (filter columns...,
// time, seq), and the query orders by (time, seq), bounds the time range and
// the cursor as a row comparison, and takes page+1 rows. Several statuses
// are one branch per status, each a bounded index scan, merged by a
// UNION ALL with the same order and limit: PostgreSQL 15 would otherwise
// sort every row of "status = ANY(...)" before the limit.

// lq is one list query.
type lq struct {
	table, cols string
	tcol        string     // the order time column
	branches    [][]string // conditions per branch, "?" for the next argument
	args        [][]any    // arguments per branch
	desc        bool
	r           store.TimeRange
	p           store.Page
	what        string
}

func (q *lq) where(cond string, arg any) {
	if len(q.branches) == 0 {
		q.branches, q.args = [][]string{nil}, [][]any{nil}
	}
	for i := range q.branches {
		q.branches[i] = append(q.branches[i], cond)
		q.args[i] = append(q.args[i], arg)
	}
}

// split makes one branch per value of cond's argument.
func (q *lq) split(cond string, vals []string) {
	if len(q.branches) == 0 {
		q.branches, q.args = [][]string{nil}, [][]any{nil}
	}
	var bs [][]string
	var as [][]any
	for _, v := range vals {
		for i := range q.branches {
			bs = append(bs, append(slices.Clone(q.branches[i]), cond))
			as = append(as, append(slices.Clone(q.args[i]), v))
		}
	}
	q.branches, q.args = bs, as
}

func lqPage[T any](t *tx, q lq, scan func(pgx.Rows, *T) error) ([]T, bool, error) {
	if !q.r.From.IsZero() {
		q.where(q.tcol+" >= ?", timeArg(q.r.From))
	}
	if !q.r.To.IsZero() {
		q.where(q.tcol+" < ?", timeArg(q.r.To))
	}
	for _, c := range []struct {
		id    string
		after bool
		name  string
	}{{q.p.StartingAfter, true, "starting_after"}, {q.p.EndingBefore, false, "ending_before"}} {
		if c.id == "" {
			continue
		}
		var at time.Time
		var seq int64
		err := t.getOne(q.what, c.id, "SELECT "+q.tcol+", seq FROM "+q.table+" WHERE id = $1", []any{c.id},
			func(r pgx.Rows) error { return r.Scan(&at, &seq) })
		if isNotFound(err) {
			return nil, false, fmt.Errorf("%w: %s %s %s", store.ErrNotFound, c.name, q.what, c.id)
		} else if err != nil {
			return nil, false, err
		}
		op := ">"
		if c.after == q.desc {
			op = "<"
		}
		q.where("("+q.tcol+", seq) "+op+" (?, ?)", rowArg{timeArg(at), seq})
	}
	if len(q.branches) == 0 {
		q.branches, q.args = [][]string{nil}, [][]any{nil}
	}
	back := q.p.EndingBefore != "" && q.p.StartingAfter == ""
	dir := "ASC"
	if q.desc != back {
		dir = "DESC"
	}
	n := q.p.Size()
	var args []any
	ph := func(a any) string {
		if r, ok := a.(rowArg); ok {
			args = append(args, r.a, r.b)
			return fmt.Sprintf("$%d, $%d", len(args)-1, len(args))
		}
		args = append(args, a)
		return fmt.Sprintf("$%d", len(args))
	}
	order := fmt.Sprintf(" ORDER BY %s %s, seq %s LIMIT %d", q.tcol, dir, dir, n+1)
	var parts []string
	for i, conds := range q.branches {
		var sb strings.Builder
		sb.WriteString("SELECT " + q.cols + ", " + q.tcol + " AS o_t, seq AS o_s FROM " + q.table)
		for j, c := range conds {
			if j == 0 {
				sb.WriteString(" WHERE ")
			} else {
				sb.WriteString(" AND ")
			}
			pre, post, _ := strings.Cut(c, "?")
			if strings.Contains(post, "?") { // a row comparison: "(?, ?)"
				sb.WriteString(strings.TrimSuffix(pre, "(") + "(" + ph(q.args[i][j]) + ")")
				continue
			}
			sb.WriteString(pre + ph(q.args[i][j]) + post)
		}
		sb.WriteString(order)
		parts = append(parts, sb.String())
	}
	sql := parts[0]
	if len(parts) > 1 {
		sql = "SELECT * FROM ((" + strings.Join(parts, ") UNION ALL (") + ")) u" +
			fmt.Sprintf(" ORDER BY o_t %s, o_s %s LIMIT %d", dir, dir, n+1)
	}
	sql = "SELECT " + q.cols + " FROM (" + sql + ") page ORDER BY o_t " + dir + ", o_s " + dir
	if listSQLHook != nil {
		listSQLHook(sql, args)
	}
	out := make([]T, 0, min(n+1, 32))
	err := t.query(sql, args, func(r pgx.Rows) error {
		var v T
		if err := scan(r, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	more := len(out) > n
	if more {
		out = out[:n]
	}
	if back {
		slices.Reverse(out)
	}
	return out, more, nil
}

// listSQLHook, when set (by tests), sees every list query before it runs.
var listSQLHook func(sql string, args []any)

// rowArg is the two arguments of a row comparison.
type rowArg struct{ a, b any }

func distinct[S ~string](vals []S) []string {
	var out []string
	for _, v := range vals {
		if !slices.Contains(out, string(v)) {
			out = append(out, string(v))
		}
	}
	return out
}

func (t *tx) QueryCustomers(q store.CustomerListQuery) ([]customer.Customer, bool, error) {
	l := lq{table: "customers", cols: customerCols, tcol: "created_at", desc: true, r: q.Created, p: q.Page,
		what: "customer"}
	email, prefix := customer.Fold(q.Email), customer.Fold(q.NamePrefix)
	if q.DID != "" {
		l.where("did = ?", q.DID)
	}
	if email != "" {
		l.where("email_fold = ?", email)
	}
	if prefix != "" {
		key := store.PrefixKey(prefix)
		l.where(fmt.Sprintf("left(search_text, %d) = ?", len([]rune(key))), key)
		if key != prefix {
			l.where("starts_with(search_text, ?)", prefix)
		}
	}
	return lqPage(t, l, scanCustomer)
}

func (t *tx) QueryPayments(q store.PaymentListQuery) ([]subscription.Payment, bool, error) {
	l := lq{table: "payments", cols: paymentCols, tcol: "created_at", desc: true, r: q.Created, p: q.Page,
		what: "payment"}
	if q.CustomerID != "" {
		l.where("customer_id = ?", q.CustomerID)
	}
	if q.SubscriptionID != "" {
		l.where("subscription_id = ?", q.SubscriptionID)
	}
	if sts := distinct(q.Statuses); len(sts) > 0 {
		l.split("status = ?", sts)
	}
	return lqPage(t, l, scanPayment)
}

func (t *tx) QuerySubscriptions(q store.SubscriptionListQuery) ([]subscription.Subscription, bool, error) {
	l := lq{table: "subscriptions", cols: subscriptionCols, tcol: "created_at", desc: true, r: q.Created,
		p: q.Page, what: "subscription"}
	if q.CustomerID != "" {
		l.where("customer_id = ?", q.CustomerID)
	}
	if q.Status != "" {
		l.where("status = ?", string(q.Status))
	}
	return lqPage(t, l, scanSubscription)
}

func scanProduct(r pgx.Rows, p *subscription.Product) error {
	var (
		meta    []byte
		updated pgtype.Timestamptz
	)
	err := r.Scan(&p.ID, &p.Name, &p.Description, &p.Price, &p.Currency, &p.CreatedAt, &p.IdempotencyKey,
		&p.OneTime, &p.TaxCategory, &meta, &updated)
	if err != nil {
		return err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), fromNullTime(updated)
	p.Metadata, err = decodeMeta(meta)
	return err
}

func (t *tx) QueryProducts(q store.ProductListQuery) ([]subscription.Product, bool, error) {
	return lqPage(t, lq{table: "products", cols: productCols, tcol: "created_at", desc: true, r: q.Created,
		p: q.Page, what: "product"}, scanProduct)
}

func (t *tx) QueryRefunds(q store.RefundListQuery) ([]subscription.Refund, bool, error) {
	l := lq{table: "refunds", cols: refundCols, tcol: "created_at", desc: true, r: q.Created, p: q.Page,
		what: "refund"}
	if q.PaymentID != "" {
		l.where("payment_id = ?", q.PaymentID)
	}
	return lqPage(t, l, scanRefund)
}

func (t *tx) QueryAttempts(q store.AttemptListQuery) ([]retry.Attempt, bool, error) {
	l := lq{table: "retry_attempts", cols: attemptCols, tcol: "run_at", desc: false, r: q.Due, p: q.Page,
		what: "attempt"}
	if q.SubscriptionID != "" {
		l.where("subscription_id = ?", q.SubscriptionID)
	}
	if q.Status != "" {
		l.where("status = ?", string(q.Status))
	}
	return lqPage(t, l, scanAttempt)
}

func (t *tx) QueryEvents(q store.EventListQuery) ([]webhook.Event, bool, error) {
	l := lq{table: "events", cols: eventCols, tcol: "created_at", desc: true, r: q.Created, p: q.Page,
		what: "event"}
	if q.Type != "" {
		l.where("type = ?", q.Type)
	}
	return lqPage(t, l, scanEvent)
}

func (t *tx) QueryEndpoints(q store.EndpointListQuery) ([]webhook.Endpoint, bool, error) {
	return lqPage(t, lq{table: "webhook_endpoints", cols: endpointCols, tcol: "created_at", desc: true,
		p: q.Page, what: "endpoint"}, scanEndpoint)
}

var (
	getProductByKey  = lockable(`SELECT ` + productCols + ` FROM products WHERE idempotency_key = $1`)
	getEndpointByKey = lockable(`SELECT ` + endpointCols + ` FROM webhook_endpoints WHERE idempotency_key = $1`)
)

func (t *tx) ProductByKey(key string) (subscription.Product, error) {
	return byAccountKey(t, "product", getProductByKey, key, scanProduct, func(p *subscription.Product) string { return "p\x00" + p.ID })
}

func (t *tx) EndpointByKey(key string) (webhook.Endpoint, error) {
	return byAccountKey(t, "endpoint", getEndpointByKey, key, scanEndpoint, func(e *webhook.Endpoint) string { return "w\x00" + e.ID })
}

// byAccountKey reads (in Update: locks) the record of an account-wide
// idempotency key and notes the read under the record's read key.
func byAccountKey[T any](t *tx, what string, q stmt, key string, scan func(pgx.Rows, *T) error, readKey func(*T) string) (T, error) {
	var v T
	if key == "" {
		return v, fmt.Errorf("%w: %s with empty idempotency key", store.ErrNotFound, what)
	}
	err := t.getOne(what+" idempotency key", key, t.lock(q), []any{key}, func(r pgx.Rows) error { return scan(r, &v) })
	if err == nil {
		t.noteRead(readKey(&v), nil)
	}
	return v, err
}
