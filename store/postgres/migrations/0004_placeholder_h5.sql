-- Placeholder (branch h5 only): stands in for the migration another branch
-- adds as version 4, because versions must run without gaps. Delete this
-- file when merging and renumber 0005_lists.sql after the real ones.
SELECT 1;
