-- Products keep what Dodo's price shapes and catalog carry that coffer uses
-- (issue 12): a one-time flag (one_time_price), the caller's tax category,
-- metadata, and the time of the last UpdateProduct.
ALTER TABLE products
    ADD COLUMN one_time     boolean     NOT NULL DEFAULT false,
    ADD COLUMN tax_category text        NOT NULL DEFAULT '',
    ADD COLUMN metadata     jsonb,
    ADD COLUMN updated_at   timestamptz;
