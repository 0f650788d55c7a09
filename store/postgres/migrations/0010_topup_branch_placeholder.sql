-- Placeholder of branch h-topup only: migration 0010 belongs to another
-- change of issue 15. It exists so that this branch's migrations run
-- without a gap up to 0011 (auto top-ups). DROP THIS FILE WHEN MERGING the
-- branch that owns 0010.
SELECT 1;
