-- Invoices (issue 15): one record per invoiced payment, numbered from a
-- per-customer counter bumped in the payment's own transaction (the row
-- lock of the counter serializes a customer's numbering until commit, and
-- a rollback undoes the bump: numbers are gapless per customer). The
-- prefix is the customer's invoice_prefix captured when the number is
-- assigned. Everything else an invoice shows is read from its payments.
CREATE TABLE invoice_counters (
    customer_id text   PRIMARY KEY REFERENCES customers (id),
    last        bigint NOT NULL CHECK (last > 0)
);

CREATE TABLE invoices (
    id          text        PRIMARY KEY,
    customer_id text        NOT NULL REFERENCES customers (id),
    payment_id  text        NOT NULL UNIQUE REFERENCES payments (id),
    prefix      text        NOT NULL,
    seq         bigint      NOT NULL CHECK (seq > 0),
    created_at  timestamptz NOT NULL,
    UNIQUE (customer_id, seq)
);
