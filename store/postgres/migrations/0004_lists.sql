-- Account-wide lists (issue 11 item 2). Every list is ordered by
-- (time, seq) -- CreatedAt, or RunAt for retry attempts -- so a time range
-- and a cursor are both bounds on one index; each filter combination the
-- store serves has its own index below. Idempotency keys for products and
-- webhook endpoints, unique when not empty.

ALTER TABLE products ADD COLUMN idempotency_key text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX products_key ON products (idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX products_created_idx ON products (created_at, seq);

ALTER TABLE webhook_endpoints ADD COLUMN idempotency_key text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX webhook_endpoints_key ON webhook_endpoints (idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX webhook_endpoints_created_idx ON webhook_endpoints (created_at, seq);

-- Customers: all, email (folded), name prefix of 1..4 characters. The name
-- prefix reads search_text, which starts with the folded name followed by
-- U+0001, so left(search_text, n) is the name's first n characters for
-- every name at least n long (and holds U+0001, matching no prefix, for a
-- shorter one). The DID already has its unique index.
CREATE INDEX customers_created_idx ON customers (created_at, seq);
CREATE INDEX customers_email_created_idx ON customers (email_fold, created_at, seq) WHERE email_fold <> '';
CREATE INDEX customers_name1_idx ON customers (left(search_text, 1), created_at, seq);
CREATE INDEX customers_name2_idx ON customers (left(search_text, 2), created_at, seq);
CREATE INDEX customers_name3_idx ON customers (left(search_text, 3), created_at, seq);
CREATE INDEX customers_name4_idx ON customers (left(search_text, 4), created_at, seq);

CREATE INDEX payments_created_idx ON payments (created_at, seq);
CREATE INDEX payments_customer_created_idx ON payments (customer_id, created_at, seq);
CREATE INDEX payments_status_created_idx ON payments (status, created_at, seq);
CREATE INDEX payments_customer_status_created_idx ON payments (customer_id, status, created_at, seq);
CREATE INDEX payments_subscription_created_idx ON payments (subscription_id, created_at, seq)
    WHERE subscription_id <> '';
CREATE INDEX payments_subscription_status_created_idx ON payments (subscription_id, status, created_at, seq)
    WHERE subscription_id <> '';

CREATE INDEX subscriptions_created_idx ON subscriptions (created_at, seq);
CREATE INDEX subscriptions_customer_created_idx ON subscriptions (customer_id, created_at, seq);
CREATE INDEX subscriptions_status_created_idx ON subscriptions (status, created_at, seq);
CREATE INDEX subscriptions_customer_status_created_idx ON subscriptions (customer_id, status, created_at, seq);

CREATE INDEX refunds_created_idx ON refunds (created_at, seq);
CREATE INDEX refunds_payment_created_idx ON refunds (payment_id, created_at, seq);

CREATE INDEX retry_attempts_run_idx ON retry_attempts (run_at, seq);
CREATE INDEX retry_attempts_status_run_idx ON retry_attempts (status, run_at, seq);
CREATE INDEX retry_attempts_subscription_run_idx ON retry_attempts (subscription_id, run_at, seq);

CREATE INDEX events_created_idx ON events (created_at, seq);
CREATE INDEX events_type_created_idx ON events (type, created_at, seq);
