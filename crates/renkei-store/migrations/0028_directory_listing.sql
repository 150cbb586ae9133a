-- The directory page without a query lists entries active first, then by reading
-- (ORDER BY is_active DESC, name_kana, id LIMIT 30). Without an index in that order every view
-- sorted the whole directory (300,000 rows) to show thirty.
CREATE INDEX institutions_by_listing ON institutions (is_active DESC, name_kana, id);
