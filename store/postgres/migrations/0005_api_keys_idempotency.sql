-- API keys and HTTP idempotency records (the coffer HTTP service).
--
-- An API key stores only the SHA-256 of its secret (hash, unique: a request
-- finds its key by one index lookup). customer_id is NULL for a key that is
-- not restricted to a customer. Keys are never deleted; revoked_at is set.
CREATE TABLE api_keys (
    seq         bigserial   NOT NULL,
    id          text        PRIMARY KEY,
    name        text        NOT NULL DEFAULT '',
    prefix      text        NOT NULL DEFAULT '',
    customer_id text        REFERENCES customers (id),
    livemode    boolean     NOT NULL DEFAULT false,
    hash        bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (hash);
CREATE INDEX api_keys_created_idx ON api_keys (created_at, seq);

-- One row per (scope, key): scope is the id of the API key that sent the
-- Idempotency-Key header. PruneIdem deletes the oldest by created_at, in
-- bounded batches, through idempotency_records_created_idx.
CREATE TABLE idempotency_records (
    seq          bigserial   NOT NULL,
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea,
    state        text        NOT NULL CHECK (state IN ('in_progress', 'done')),
    status       integer     NOT NULL DEFAULT 0,
    content_type text        NOT NULL DEFAULT '',
    body         bytea,
    locked_until timestamptz,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_records_created_idx ON idempotency_records (created_at, seq);
