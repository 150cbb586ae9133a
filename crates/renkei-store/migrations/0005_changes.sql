-- Institutions keep their own entries: proposed changes wait for the hub coordinator's
-- decision, and every approved version is kept.

CREATE TABLE institution_changes (
    id {{ID}},
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    proposed_by BIGINT REFERENCES users (id),
    proposed_at TEXT NOT NULL,
    status TEXT NOT NULL,
    fields TEXT NOT NULL,
    previous TEXT NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at TEXT,
    reason TEXT
);

CREATE INDEX institution_changes_by_status ON institution_changes (status, institution_id);

CREATE TABLE institution_versions (
    id {{ID}},
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    fields TEXT NOT NULL,
    change_id BIGINT REFERENCES institution_changes (id),
    approved_by BIGINT REFERENCES users (id),
    approved_at TEXT NOT NULL
);

CREATE INDEX institution_versions_by_institution ON institution_versions (institution_id, id);
