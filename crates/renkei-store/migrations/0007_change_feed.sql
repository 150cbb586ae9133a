-- The change feed (FHIR _history) reads entries and approved changes in time order with keyset
-- paging; these indexes keep each page a short range scan at any directory size.

CREATE INDEX institutions_by_update ON institutions (updated_at, id);
CREATE INDEX institution_changes_by_decision ON institution_changes (status, decided_at, id);
