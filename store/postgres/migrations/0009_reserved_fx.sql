-- Placeholder on the h-fx branch only, so that 0010 has no gap before it:
-- version 9 belongs to another branch. DELETE THIS FILE when merging that
-- branch's 0009 (two version-9 files make the migrations fail to load).
SELECT 1;
