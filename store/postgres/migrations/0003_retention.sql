-- Retention (issue 11, item 8): Engine.Prune deletes dispatched events and
-- finished deliveries past their retention, oldest first, in bounded
-- batches. These partial indexes serve that walk, so a batch costs what it
-- deletes, not the size of the table.
CREATE INDEX events_dispatched_idx ON events (created_at, seq) WHERE dispatched;
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (updated_at, seq)
    WHERE status IN ('succeeded', 'failed');
