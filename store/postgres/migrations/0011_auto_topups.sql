-- Auto top-up rules (issue 15 item 3): one row per rule of a wallet. The
-- rule and its worker state are kept as one JSON document (rule); the
-- columns the store looks rules up by are kept beside it: the wallet, the
-- creation time (the wallet's list order) and the next check, indexed for
-- the worker's scan of the rules due (DueTopUps).
CREATE TABLE topup_rules (
    id          text        PRIMARY KEY,
    customer_id text        NOT NULL REFERENCES customers (id),
    currency    text        NOT NULL,
    created_at  timestamptz NOT NULL,
    next_check  timestamptz,
    rule        jsonb       NOT NULL
);
CREATE INDEX topup_rules_wallet ON topup_rules (customer_id, currency, created_at, id);
CREATE INDEX topup_rules_due ON topup_rules (next_check, id) WHERE next_check IS NOT NULL;
