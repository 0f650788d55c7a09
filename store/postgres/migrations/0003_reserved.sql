-- Placeholder for branch h3's migration 0003 (branch h4 needs version 4
-- and versions must run without gaps). Delete this file when merging h3's
-- 0003; it changes nothing.
SELECT 1;
