-- Credit grants (issue 15): the tracked part of a credit entry (its kind,
-- priority and expiry) and its derived remainder, and the allocations with
-- which debit entries and holds consumed or reserve grants. A grant's id is
-- its credit entry's id (or that id and a suffix, for the grants of a
-- refund to the wallet).
CREATE TABLE credit_grants (
    id          text        PRIMARY KEY,
    entry_id    text        NOT NULL REFERENCES ledger_entries (id),
    customer_id text        NOT NULL,
    currency    text        NOT NULL,
    kind        text        NOT NULL,
    priority    integer     NOT NULL,
    expires_at  timestamptz,
    amount      bigint      NOT NULL CHECK (amount > 0),
    remaining   bigint      NOT NULL,
    held        bigint      NOT NULL,
    expired     bigint      NOT NULL,
    source      text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    CHECK (remaining >= 0 AND remaining <= amount AND held >= 0 AND held <= remaining
           AND expired >= 0 AND expired <= amount - remaining)
);
CREATE INDEX credit_grants_wallet ON credit_grants (customer_id, currency);
CREATE INDEX credit_grants_open ON credit_grants (customer_id, currency) WHERE remaining > 0;
CREATE INDEX credit_grants_due ON credit_grants (expires_at, id)
    WHERE remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE credit_allocations (
    owner_id    text    PRIMARY KEY,
    allocations jsonb   NOT NULL
);
