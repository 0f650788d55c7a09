-- Customer search (issue 13): one row per token of a customer
-- (customer.Tokens: folded words, whitespace-separated chunks, the email's
-- local part and domain, the phone's digits, the id), so the customers a
-- search term matches -- the tokens starting with it -- are one range of
-- the primary key. tok is bytea so the range is a byte range
-- (tok >= term AND tok < term with its last byte incremented), whatever the
-- database's collation. The rows are written by coffer in the customer's
-- own insert and update; (seq, tok) serves those updates and the check of
-- a page's other terms.
--
-- Tokens are computed in Go, so this file cannot fill the table for the
-- customers that exist: coffer does it when it opens the store (in the
-- migration's transaction when it applies this file), and records it in
-- customer_tokens_state. A schema applied by hand (coffer migrate -print)
-- is filled at the next Open.
CREATE TABLE customer_tokens (
    tok bytea  NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (tok, seq)
);
CREATE INDEX customer_tokens_seq_idx ON customer_tokens (seq, tok);

-- version: the tokenization customer_tokens was built with (1); no row
-- means not built yet.
CREATE TABLE customer_tokens_state (
    version integer NOT NULL
);
