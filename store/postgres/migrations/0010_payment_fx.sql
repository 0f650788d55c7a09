-- Adaptive currency (issue 15): what a converted charge records on its
-- payment. fee is the adaptive-currency fee inside amount (minor units of
-- currency); product_amount and product_currency are the product price
-- before conversion; fx_rate is the rate used as a decimal string (units of
-- currency per unit of product_currency), fx_source the source that gave it
-- and fx_rate_at when that source fixed it. Payments that were not
-- converted keep the defaults.
ALTER TABLE payments
    ADD COLUMN fee              bigint      NOT NULL DEFAULT 0,
    ADD COLUMN product_amount   bigint      NOT NULL DEFAULT 0,
    ADD COLUMN product_currency text        NOT NULL DEFAULT '',
    ADD COLUMN fx_rate          text        NOT NULL DEFAULT '',
    ADD COLUMN fx_source        text        NOT NULL DEFAULT '',
    ADD COLUMN fx_rate_at       timestamptz;
