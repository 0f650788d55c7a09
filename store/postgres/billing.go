package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// ---- products ----

const productCols = `id, name, description, price, currency, created_at, idempotency_key, one_time, tax_category,
	metadata, updated_at`

var getProduct = lockable(`SELECT ` + productCols + ` FROM products WHERE id = $1`)

const (
	upsertProduct = `INSERT INTO products (` + productCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
		price = EXCLUDED.price, currency = EXCLUDED.currency, created_at = EXCLUDED.created_at,
		idempotency_key = EXCLUDED.idempotency_key, one_time = EXCLUDED.one_time,
		tax_category = EXCLUDED.tax_category, metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at`
	insertProduct = `INSERT INTO products (` + productCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT DO NOTHING`
)

// PutProduct stores a product.
func (t *tx) PutProduct(p subscription.Product) error {
	meta, err := metaArg(p.Metadata)
	if err != nil {
		return err
	}
	return t.put("p\x00"+p.ID, putSQL{upsert: upsertProduct, insert: insertProduct},
		p.ID, p.Name, p.Description, p.Price, p.Currency, timeArg(p.CreatedAt), p.IdempotencyKey,
		p.OneTime, p.TaxCategory, meta, nullTimeArg(p.UpdatedAt))
}

// Product reads (in Update: locks) a product.
func (t *tx) Product(id string) (subscription.Product, error) {
	var p subscription.Product
	err := t.getOne("product", id, t.lock(getProduct), []any{id}, func(r pgx.Rows) error { return scanProduct(r, &p) })
	t.noteRead("p\x00"+id, err)
	return p, err
}

// ---- subscriptions ----

const subscriptionCols = `id, customer_id, product_id, quantity, status, payment_method, mandate_id,
	mandate_authorized_at, payment_link, return_url, billing_address, price, currency, description,
	fees_inclusive, mandate_only, metadata, decline_code, last_payment_at, created_at, updated_at,
	cancelled_at`

var getSubscription = lockable(`SELECT ` + subscriptionCols + ` FROM subscriptions WHERE id = $1`)

const (
	insertSubscription = `INSERT INTO subscriptions (` + subscriptionCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
		ON CONFLICT DO NOTHING`
	updateSubscription = `UPDATE subscriptions SET customer_id = $2, product_id = $3, quantity = $4,
		status = $5, payment_method = $6, mandate_id = $7, mandate_authorized_at = $8, payment_link = $9,
		return_url = $10, billing_address = $11, price = $12, currency = $13, description = $14,
		fees_inclusive = $15, mandate_only = $16, metadata = $17, decline_code = $18,
		last_payment_at = $19, created_at = $20, updated_at = $21, cancelled_at = $22
		WHERE id = $1`
)

func subscriptionArgs(s subscription.Subscription) ([]any, error) {
	addr, err := jsonArg(s.BillingAddress, s.BillingAddress == nil)
	if err != nil {
		return nil, err
	}
	meta, err := metaArg(s.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{s.ID, s.CustomerID, s.ProductID, s.Quantity, string(s.Status), s.PaymentMethod,
		s.MandateID, nullTimeArg(s.MandateAuthorizedAt), s.PaymentLink, s.ReturnURL, addr, s.Price,
		s.Currency, s.Description, s.FeesInclusive, s.MandateOnly, meta, s.DeclineCode,
		nullTimeArg(s.LastPaymentAt), timeArg(s.CreatedAt), timeArg(s.UpdatedAt),
		nullTimeArg(s.CancelledAt)}, nil
}

func scanSubscription(r pgx.Rows, s *subscription.Subscription) error {
	var (
		status                    string
		authorized, last, cancels pgtype.Timestamptz
		addr, meta                []byte
	)
	err := r.Scan(&s.ID, &s.CustomerID, &s.ProductID, &s.Quantity, &status, &s.PaymentMethod, &s.MandateID,
		&authorized, &s.PaymentLink, &s.ReturnURL, &addr, &s.Price, &s.Currency, &s.Description,
		&s.FeesInclusive, &s.MandateOnly, &meta, &s.DeclineCode, &last, &s.CreatedAt, &s.UpdatedAt, &cancels)
	if err != nil {
		return err
	}
	s.Status = subscription.Status(status)
	s.MandateAuthorizedAt, s.LastPaymentAt, s.CancelledAt = fromNullTime(authorized), fromNullTime(last), fromNullTime(cancels)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	if s.BillingAddress, err = decodePtr[customer.Address](addr); err != nil {
		return err
	}
	s.Metadata, err = decodeMeta(meta)
	return err
}

// InsertSubscription stores a new subscription.
func (t *tx) InsertSubscription(s subscription.Subscription) error {
	if err := t.writable(); err != nil {
		return err
	}
	args, err := subscriptionArgs(s)
	if err != nil {
		return err
	}
	return t.insert("subscription", s.ID, insertSubscription, args)
}

// Subscription reads (in Update: locks) a subscription.
func (t *tx) Subscription(id string) (subscription.Subscription, error) {
	if p := t.prefetched; p != nil && p.ID == id && !t.readOnly {
		// Locked by this transaction's read of a payment (Payment) and
		// not written since: used once.
		t.prefetched = nil
		t.noteRead(subKey(id), nil)
		return *p, nil
	}
	var s subscription.Subscription
	err := t.getOne("subscription", id, t.lock(getSubscription), []any{id}, func(r pgx.Rows) error {
		return scanSubscription(r, &s)
	})
	t.noteRead(subKey(id), err)
	return s, err
}

func subKey(id string) string { return "s\x00" + id }

func paymentKey(id string) string { return "pay\x00" + id }

// UpdateSubscription replaces a stored subscription.
func (t *tx) UpdateSubscription(s subscription.Subscription) error {
	if err := t.writable(); err != nil {
		return err
	}
	args, err := subscriptionArgs(s)
	if err != nil {
		return err
	}
	if t.prefetched != nil && t.prefetched.ID == s.ID {
		t.prefetched = nil
	}
	return t.updateLocked(subKey(s.ID), "subscription", s.ID, updateSubscription, args)
}

// ListSubscriptions lists a customer's subscriptions (every customer's for
// "") newest first.
func (t *tx) ListSubscriptions(customerID string, p store.Page) ([]subscription.Subscription, bool, error) {
	l := listQuery{table: "subscriptions", cols: subscriptionCols}
	if customerID != "" {
		l.filter("customer_id = ?", customerID)
	}
	return listPage(t, l, p, scanSubscription)
}

// ---- payments ----

const paymentCols = `id, customer_id, subscription_id, kind, amount, currency, wallet_amount,
	processor_amount, refunded_amount, status, decline_code, payment_method, processor_id, hold_id,
	idempotency_key, fingerprint, description, fees_inclusive, metadata, retry_attempt, retry_of,
	settled_by, next_retry_at, created_at, updated_at, wallet_refunded, processor_refunded, collecting_by,
	call_until, fee, product_amount, product_currency, fx_rate, fx_source, fx_rate_at`

var getPayment = lockable(`SELECT ` + paymentCols + ` FROM payments WHERE id = $1`)

var getPaymentByKey = lockable(`SELECT ` + paymentCols + ` FROM payments
	WHERE customer_id = $1 AND idempotency_key = $2`)

const (
	insertPayment = `INSERT INTO payments (` + paymentCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
		$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35)
		ON CONFLICT DO NOTHING`
	updatePayment = `UPDATE payments SET customer_id = $2, subscription_id = $3, kind = $4, amount = $5,
		currency = $6, wallet_amount = $7, processor_amount = $8, refunded_amount = $9, status = $10,
		decline_code = $11, payment_method = $12, processor_id = $13, hold_id = $14, idempotency_key = $15,
		fingerprint = $16, description = $17, fees_inclusive = $18, metadata = $19, retry_attempt = $20,
		retry_of = $21, settled_by = $22, next_retry_at = $23, created_at = $24, updated_at = $25,
		wallet_refunded = $26, processor_refunded = $27, collecting_by = $28, call_until = $29,
		fee = $30, product_amount = $31, product_currency = $32, fx_rate = $33, fx_source = $34, fx_rate_at = $35
		WHERE id = $1`
)

func paymentArgs(p subscription.Payment) ([]any, error) {
	meta, err := metaArg(p.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{p.ID, p.CustomerID, p.SubscriptionID, string(p.Kind), p.Amount, p.Currency,
		p.WalletAmount, p.ProcessorAmount, p.RefundedAmount, string(p.Status), p.DeclineCode,
		p.PaymentMethod, p.ProcessorID, p.HoldID, p.IdempotencyKey, p.Fingerprint, p.Description,
		p.FeesInclusive, meta, p.RetryAttempt, p.RetryOf, p.SettledBy, nullTimeArg(p.NextRetryAt),
		timeArg(p.CreatedAt), timeArg(p.UpdatedAt), p.WalletRefunded, p.ProcessorRefunded, p.CollectingBy,
		nullTimeArg(p.CallUntil), p.Fee, p.ProductAmount, p.ProductCurrency, p.FXRate, p.FXSource,
		nullTimeArg(p.FXRateAt)}, nil
}

func scanPayment(r pgx.Rows, p *subscription.Payment) error {
	var (
		kind, status string
		meta         []byte
		next, call   pgtype.Timestamptz
		fxAt         pgtype.Timestamptz
	)
	err := r.Scan(&p.ID, &p.CustomerID, &p.SubscriptionID, &kind, &p.Amount, &p.Currency, &p.WalletAmount,
		&p.ProcessorAmount, &p.RefundedAmount, &status, &p.DeclineCode, &p.PaymentMethod, &p.ProcessorID,
		&p.HoldID, &p.IdempotencyKey, &p.Fingerprint, &p.Description, &p.FeesInclusive, &meta,
		&p.RetryAttempt, &p.RetryOf, &p.SettledBy, &next, &p.CreatedAt, &p.UpdatedAt, &p.WalletRefunded,
		&p.ProcessorRefunded, &p.CollectingBy, &call, &p.Fee, &p.ProductAmount, &p.ProductCurrency, &p.FXRate,
		&p.FXSource, &fxAt)
	if err != nil {
		return err
	}
	p.Kind, p.Status = subscription.Kind(kind), subscription.PaymentStatus(status)
	p.NextRetryAt, p.CallUntil, p.FXRateAt = fromNullTime(next), fromNullTime(call), fromNullTime(fxAt)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	p.Metadata, err = decodeMeta(meta)
	return err
}

// InsertPayment stores a new payment; an existing id or a customer's
// reused idempotency key is store.ErrDuplicate.
func (t *tx) InsertPayment(p subscription.Payment) error {
	if err := t.writable(); err != nil {
		return err
	}
	args, err := paymentArgs(p)
	if err != nil {
		return err
	}
	return t.insert("payment", p.ID, insertPayment, args)
}

// Payment reads (in Update: locks) a payment.
func (t *tx) Payment(id string) (subscription.Payment, error) {
	var p subscription.Payment
	if t.readOnly || t.hosted {
		err := t.getOne("payment", id, t.lock(getPayment), []any{id}, func(r pgx.Rows) error {
			return scanPayment(r, &p)
		})
		t.noteRead(paymentKey(id), err)
		return p, err
	}
	if err := t.usable(); err != nil {
		return p, err
	}
	// The locking read of the payment, and in the same round trip the
	// prefetch of its subscription when the payment is pending.
	found := false
	sql, args, each := t.lockedRead(getPayment.lock, []any{id}, func(r pgx.Rows) error {
		found = true
		return scanPayment(r, &p)
	})
	t.q = append(t.q, queued{sql: sql, args: args, each: each})
	var sub subscription.Subscription
	got := false
	err := t.query(prefetchSubscription, []any{id}, func(r pgx.Rows) error {
		got = true
		return scanSubscription(r, &sub)
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: payment %q", store.ErrNotFound, id)
	}
	t.noteRead(paymentKey(id), err)
	if err == nil && got {
		t.prefetched = &sub
	}
	return p, err
}

// prefetchSubscription locks and reads, right after a pending payment is
// read in an Update, the subscription it belongs to: settling the payment
// reads it next (its last payment, status), and then finds it here
// (Subscription) instead of waiting on another round trip. It is sent after
// the payment's read, which took the customer's lock (customerlock.go), and
// only a subscription of the payment's own customer is read, so its row
// lock is taken under that customer's lock like every other.
var prefetchSubscription = `SELECT ` + prefixCols("s", subscriptionCols) + ` FROM payments p
	JOIN subscriptions s ON s.id = p.subscription_id AND s.customer_id = p.customer_id
	WHERE p.id = $1 AND p.status = '` + string(subscription.PaymentPending) + `' FOR NO KEY UPDATE OF s`

// PaymentByKey reads (in Update: locks) the payment a customer made with an
// idempotency key.
func (t *tx) PaymentByKey(customerID, key string) (subscription.Payment, error) {
	var p subscription.Payment
	if key == "" {
		return p, fmt.Errorf("%w: payment with an empty idempotency key", store.ErrNotFound)
	}
	err := t.getOne("payment with key", key, t.lock(getPaymentByKey), []any{customerID, key},
		func(r pgx.Rows) error { return scanPayment(r, &p) })
	if err == nil {
		t.noteRead(paymentKey(p.ID), nil)
	}
	return p, err
}

// UpdatePayment replaces a stored payment.
func (t *tx) UpdatePayment(p subscription.Payment) error {
	if err := t.writable(); err != nil {
		return err
	}
	args, err := paymentArgs(p)
	if err != nil {
		return err
	}
	return t.updateLocked(paymentKey(p.ID), "payment", p.ID, updatePayment, args)
}

// ListPayments lists payments newest first, through the (customer_id, seq)
// or (status, seq) index.
func (t *tx) ListPayments(q store.PaymentQuery) ([]subscription.Payment, bool, error) {
	l := listQuery{table: "payments", cols: paymentCols}
	if q.CustomerID != "" {
		l.filter("customer_id = ?", q.CustomerID)
	}
	switch len(q.Statuses) {
	case 0:
	case 1:
		l.filter("status = ?", string(q.Statuses[0]))
	default:
		statuses := make([]string, len(q.Statuses))
		for i, s := range q.Statuses {
			statuses[i] = string(s)
		}
		l.filter("status = ANY (?)", statuses)
	}
	return listPage(t, l, q.Page, scanPayment)
}

// ---- refunds ----

const refundCols = `id, payment_id, customer_id, amount, currency, destination, status, wallet_amount,
	processor_amount, reason, idempotency_key, fingerprint, processor_id, created_at`

var (
	getRefund      = lockable(`SELECT ` + refundCols + ` FROM refunds WHERE id = $1`)
	getRefundByKey = lockable(`SELECT ` + refundCols + ` FROM refunds WHERE payment_id = $1 AND idempotency_key = $2`)
)

const (
	insertRefund = `INSERT INTO refunds (` + refundCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING`
	updateRefund = `UPDATE refunds SET payment_id = $2, customer_id = $3, amount = $4, currency = $5,
		destination = $6, status = $7, wallet_amount = $8, processor_amount = $9, reason = $10,
		idempotency_key = $11, fingerprint = $12, processor_id = $13, created_at = $14
		WHERE id = $1`
	listRefunds    = `SELECT ` + refundCols + ` FROM refunds WHERE payment_id = $1 ORDER BY seq`
	pendingRefunds = `SELECT ` + refundCols + ` FROM refunds WHERE status = 'pending' ORDER BY seq LIMIT $1`
)

func refundArgs(r subscription.Refund) []any {
	return []any{r.ID, r.PaymentID, r.CustomerID, r.Amount, r.Currency, string(r.Destination),
		string(r.Status), r.WalletAmount, r.ProcessorAmount, r.Reason, r.IdempotencyKey, r.Fingerprint,
		r.ProcessorID, timeArg(r.CreatedAt)}
}

func scanRefund(r pgx.Rows, f *subscription.Refund) error {
	var dest, status string
	err := r.Scan(&f.ID, &f.PaymentID, &f.CustomerID, &f.Amount, &f.Currency, &dest, &status,
		&f.WalletAmount, &f.ProcessorAmount, &f.Reason, &f.IdempotencyKey, &f.Fingerprint, &f.ProcessorID,
		&f.CreatedAt)
	f.Destination, f.Status = subscription.RefundDestination(dest), subscription.RefundStatus(status)
	f.CreatedAt = f.CreatedAt.UTC()
	return err
}

// InsertRefund stores a new refund; an existing id or an idempotency key
// reused on the payment is store.ErrDuplicate.
func (t *tx) InsertRefund(r subscription.Refund) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.insert("refund", r.ID, insertRefund, refundArgs(r))
}

// Refund reads (in Update: locks) a refund.
func (t *tx) Refund(id string) (subscription.Refund, error) {
	var f subscription.Refund
	err := t.getOne("refund", id, t.lock(getRefund), []any{id}, func(r pgx.Rows) error { return scanRefund(r, &f) })
	return f, err
}

// RefundByKey reads (in Update: locks) the refund of a payment with an
// idempotency key.
func (t *tx) RefundByKey(paymentID, key string) (subscription.Refund, error) {
	var f subscription.Refund
	if key == "" {
		return f, fmt.Errorf("%w: refund with an empty idempotency key", store.ErrNotFound)
	}
	err := t.getOne("refund with key", key, t.lock(getRefundByKey), []any{paymentID, key},
		func(r pgx.Rows) error { return scanRefund(r, &f) })
	return f, err
}

// UpdateRefund replaces a stored refund.
func (t *tx) UpdateRefund(r subscription.Refund) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.update("refund", r.ID, updateRefund, refundArgs(r))
}

// ListRefunds lists a payment's refunds oldest first.
func (t *tx) ListRefunds(paymentID string) ([]subscription.Refund, error) {
	return listAll(t, listRefunds, []any{paymentID}, scanRefund)
}

// PendingRefunds lists pending refunds oldest first, through a partial
// index on pending refunds only.
func (t *tx) PendingRefunds(limit int) ([]subscription.Refund, error) {
	return listAll(t, pendingRefunds, []any{limitArg(limit)}, scanRefund)
}
