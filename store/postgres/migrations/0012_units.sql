-- Credit units (issue 15, credit-based billing): the definitions of the
-- non-ISO units wallets may hold (api_calls, credits, ...). A unit is
-- immutable once defined: rows are inserted, never updated or deleted.
-- The price, when set, is price_amount minor units of price_currency for
-- price_per minor units of the unit (all three set, or none).
CREATE TABLE units (
    code           text        PRIMARY KEY,
    exponent       integer     NOT NULL CHECK (exponent >= 0 AND exponent <= 6),
    name           text        NOT NULL DEFAULT '',
    price_amount   bigint,
    price_currency text,
    price_per      bigint,
    created_at     timestamptz NOT NULL,
    CHECK ((price_amount IS NULL) = (price_currency IS NULL) AND (price_amount IS NULL) = (price_per IS NULL)),
    CHECK (price_amount IS NULL OR (price_amount > 0 AND price_per > 0))
);
