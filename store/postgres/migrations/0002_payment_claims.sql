-- Money safety (issue 10): where refunded money went, the claim that makes
-- one overdue charge collected at most once, and the lease on a payment's
-- processor call that keeps Reconcile from failing a charge still in flight.
-- Payments refunded before this version get their refund split from their
-- refunds the next time the engine refunds them (see Engine.Refund).
ALTER TABLE payments
    ADD COLUMN wallet_refunded    bigint      NOT NULL DEFAULT 0,
    ADD COLUMN processor_refunded bigint      NOT NULL DEFAULT 0,
    ADD COLUMN collecting_by      text        NOT NULL DEFAULT '',
    ADD COLUMN call_until         timestamptz,
    ADD CONSTRAINT payments_split_refund_check CHECK (wallet_refunded >= 0 AND processor_refunded >= 0);
