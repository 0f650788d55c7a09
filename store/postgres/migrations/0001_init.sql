-- coffer schema, version 1.
--
-- Every list is ordered by seq, a bigserial assigned on insert, so "newest
-- first" is ORDER BY seq DESC and cursors compare seq values. The sequence
-- makes seq unique; it is indexed alone only where a list is not filtered
-- (elsewhere it ends a composite index), to keep inserts cheap. The checks
-- below protect money even against a buggy caller: a balance can never go
-- negative or hold more than it has, an idempotency key can never be used
-- twice, and no wallet row can exist without its customer.

CREATE TABLE customers (
    seq            bigserial   NOT NULL,
    id             text        PRIMARY KEY,
    name           text        NOT NULL DEFAULT '',
    email          text        NOT NULL DEFAULT '',
    -- email_fold is the lower-cased email (Go strings.ToLower) for the
    -- case-insensitive exact match.
    email_fold     text        NOT NULL DEFAULT '',
    phone          text        NOT NULL DEFAULT '',
    description    text        NOT NULL DEFAULT '',
    did            text        NOT NULL DEFAULT '',
    address        jsonb,
    shipping       jsonb,
    metadata       jsonb,
    invoice_prefix text        NOT NULL DEFAULT '',
    delinquent     boolean     NOT NULL DEFAULT false,
    livemode       boolean     NOT NULL DEFAULT false,
    -- search_text is the lower-cased name, email, phone, id and description
    -- joined by U+0001, exactly what customer.Matches searches.
    search_text    text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX customers_seq_idx ON customers (seq);
CREATE UNIQUE INDEX customers_did_key ON customers (did) WHERE did <> '';
CREATE INDEX customers_email_idx ON customers (email_fold, seq) WHERE email_fold <> '';

CREATE TABLE wallet_balances (
    customer_id   text        NOT NULL REFERENCES customers (id),
    currency      text        NOT NULL,
    amount        bigint      NOT NULL,
    held          bigint      NOT NULL DEFAULT 0,
    low_threshold bigint      NOT NULL DEFAULT 0,
    low           boolean     NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (customer_id, currency),
    CONSTRAINT wallet_balances_amount_check CHECK (amount >= 0),
    CONSTRAINT wallet_balances_held_check CHECK (held >= 0 AND held <= amount)
);

CREATE TABLE ledger_entries (
    seq             bigserial   NOT NULL,
    id              text        PRIMARY KEY,
    customer_id     text        NOT NULL REFERENCES customers (id),
    currency        text        NOT NULL,
    entry_type      text        NOT NULL CHECK (entry_type IN ('credit', 'debit')),
    amount          bigint      NOT NULL CHECK (amount > 0),
    balance_before  bigint      NOT NULL,
    balance_after   bigint      NOT NULL,
    reason          text        NOT NULL DEFAULT '',
    idempotency_key text        NOT NULL DEFAULT '',
    reference_type  text        NOT NULL DEFAULT '',
    reference_id    text        NOT NULL DEFAULT '',
    fingerprint     text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX ledger_entries_key ON ledger_entries (customer_id, idempotency_key)
    WHERE idempotency_key <> '';
CREATE INDEX ledger_entries_customer_idx ON ledger_entries (customer_id, seq);
CREATE INDEX ledger_entries_currency_idx ON ledger_entries (customer_id, currency, seq);

CREATE TABLE holds (
    id             text        PRIMARY KEY,
    customer_id    text        NOT NULL REFERENCES customers (id),
    currency       text        NOT NULL,
    amount         bigint      NOT NULL CHECK (amount > 0),
    status         text        NOT NULL CHECK (status IN ('pending', 'captured', 'released')),
    reference_type text        NOT NULL DEFAULT '',
    reference_id   text        NOT NULL DEFAULT '',
    entry_id       text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX holds_customer_idx ON holds (customer_id, currency) WHERE status = 'pending';

CREATE TABLE products (
    seq         bigserial   NOT NULL,
    id          text        PRIMARY KEY,
    name        text        NOT NULL DEFAULT '',
    description text        NOT NULL DEFAULT '',
    price       bigint      NOT NULL,
    currency    text        NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE subscriptions (
    seq                   bigserial   NOT NULL,
    id                    text        PRIMARY KEY,
    customer_id           text        NOT NULL REFERENCES customers (id),
    product_id            text        NOT NULL DEFAULT '',
    quantity              integer     NOT NULL,
    status                text        NOT NULL,
    payment_method        text        NOT NULL DEFAULT '',
    mandate_id            text        NOT NULL DEFAULT '',
    mandate_authorized_at timestamptz,
    payment_link          text        NOT NULL DEFAULT '',
    return_url            text        NOT NULL DEFAULT '',
    billing_address       jsonb,
    price                 bigint      NOT NULL,
    currency              text        NOT NULL,
    description           text        NOT NULL DEFAULT '',
    fees_inclusive        boolean     NOT NULL DEFAULT false,
    mandate_only          boolean     NOT NULL DEFAULT false,
    metadata              jsonb,
    decline_code          text        NOT NULL DEFAULT '',
    last_payment_at       timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    cancelled_at          timestamptz
);
CREATE INDEX subscriptions_seq_idx ON subscriptions (seq);
CREATE INDEX subscriptions_customer_idx ON subscriptions (customer_id, seq);

CREATE TABLE payments (
    seq              bigserial   NOT NULL,
    id               text        PRIMARY KEY,
    customer_id      text        NOT NULL REFERENCES customers (id),
    subscription_id  text        NOT NULL DEFAULT '',
    kind             text        NOT NULL,
    amount           bigint      NOT NULL,
    currency         text        NOT NULL,
    wallet_amount    bigint      NOT NULL DEFAULT 0,
    processor_amount bigint      NOT NULL DEFAULT 0,
    refunded_amount  bigint      NOT NULL DEFAULT 0,
    status           text        NOT NULL,
    decline_code     text        NOT NULL DEFAULT '',
    payment_method   text        NOT NULL DEFAULT '',
    processor_id     text        NOT NULL DEFAULT '',
    hold_id          text        NOT NULL DEFAULT '',
    idempotency_key  text        NOT NULL DEFAULT '',
    fingerprint      text        NOT NULL DEFAULT '',
    description      text        NOT NULL DEFAULT '',
    fees_inclusive   boolean     NOT NULL DEFAULT false,
    metadata         jsonb,
    retry_attempt    integer     NOT NULL DEFAULT 0,
    retry_of         text        NOT NULL DEFAULT '',
    settled_by       text        NOT NULL DEFAULT '',
    next_retry_at    timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT payments_refunded_check CHECK (refunded_amount >= 0)
);
CREATE INDEX payments_seq_idx ON payments (seq);
CREATE UNIQUE INDEX payments_key ON payments (customer_id, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX payments_customer_idx ON payments (customer_id, seq);
CREATE INDEX payments_status_idx ON payments (status, seq);

CREATE TABLE refunds (
    seq              bigserial   NOT NULL,
    id               text        PRIMARY KEY,
    payment_id       text        NOT NULL REFERENCES payments (id),
    customer_id      text        NOT NULL DEFAULT '',
    amount           bigint      NOT NULL,
    currency         text        NOT NULL,
    destination      text        NOT NULL DEFAULT '',
    wallet_amount    bigint      NOT NULL DEFAULT 0,
    processor_amount bigint      NOT NULL DEFAULT 0,
    reason           text        NOT NULL DEFAULT '',
    idempotency_key  text        NOT NULL DEFAULT '',
    fingerprint      text        NOT NULL DEFAULT '',
    processor_id     text        NOT NULL DEFAULT '',
    status           text        NOT NULL,
    created_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX refunds_key ON refunds (payment_id, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX refunds_payment_idx ON refunds (payment_id, seq);
CREATE INDEX refunds_pending_idx ON refunds (seq) WHERE status = 'pending';

-- The transactional outbox.
CREATE TABLE events (
    seq         bigserial   NOT NULL,
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    customer_id text        NOT NULL DEFAULT '',
    -- data is the event payload, byte for byte as given.
    data        bytea,
    dispatched  boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL
);
CREATE INDEX events_seq_idx ON events (seq);
CREATE INDEX events_undispatched_idx ON events (seq) WHERE NOT dispatched;

CREATE TABLE retry_attempts (
    seq              bigserial   NOT NULL,
    id               text        PRIMARY KEY,
    subscription_id  text        NOT NULL DEFAULT '',
    customer_id      text        NOT NULL DEFAULT '',
    first_payment_id text        NOT NULL DEFAULT '',
    payment_id       text        NOT NULL DEFAULT '',
    number           integer     NOT NULL,
    amount           bigint      NOT NULL,
    currency         text        NOT NULL,
    description      text        NOT NULL DEFAULT '',
    fees_inclusive   boolean     NOT NULL DEFAULT false,
    metadata         jsonb,
    due_at           timestamptz NOT NULL,
    run_at           timestamptz NOT NULL,
    notified         boolean     NOT NULL DEFAULT false,
    status           text        NOT NULL
                     CHECK (status IN ('scheduled', 'claimed', 'succeeded', 'failed', 'cancelled')),
    lease_owner      text        NOT NULL DEFAULT '',
    lease_until      timestamptz,
    decline_code     text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX retry_attempts_due_idx ON retry_attempts (run_at, seq)
    WHERE status IN ('scheduled', 'claimed');
CREATE INDEX retry_attempts_subscription_idx ON retry_attempts (subscription_id, number);
CREATE INDEX retry_attempts_in_flight_idx ON retry_attempts (customer_id, lease_until)
    WHERE status = 'claimed';

CREATE TABLE webhook_endpoints (
    seq                 bigserial   NOT NULL,
    id                  text        PRIMARY KEY,
    url                 text        NOT NULL,
    description         text        NOT NULL DEFAULT '',
    secret              text        NOT NULL DEFAULT '',
    previous_secret     text        NOT NULL DEFAULT '',
    previous_expires_at timestamptz,
    event_types         text[],
    disabled            boolean     NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);

CREATE INDEX webhook_endpoints_seq_idx ON webhook_endpoints (seq);

CREATE TABLE webhook_deliveries (
    seq          bigserial   NOT NULL,
    id           text        PRIMARY KEY,
    event_id     text        NOT NULL REFERENCES events (id),
    endpoint_id  text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('pending', 'claimed', 'succeeded', 'failed')),
    attempts     integer     NOT NULL DEFAULT 0,
    run_at       timestamptz NOT NULL,
    lease_owner  text        NOT NULL DEFAULT '',
    last_status  integer     NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT '',
    delivered_at timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_seq_idx ON webhook_deliveries (seq);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (run_at, seq)
    WHERE status IN ('pending', 'claimed');
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id, seq);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, seq);
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (status, seq);
