-- The hubs' activity ledger: one document per hub (area) and report year, holding the previous
-- year's results and challenges, the year's plan and progress, and the active institutions'
-- section. Edits replace the document under a revision check; every revision is kept.

CREATE TABLE ledgers (
    id {{ID}},
    area_id BIGINT NOT NULL REFERENCES areas (id),
    report_year BIGINT NOT NULL,
    document TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    UNIQUE (area_id, report_year)
);

CREATE TABLE ledger_revisions (
    ledger_id BIGINT NOT NULL REFERENCES ledgers (id),
    revision BIGINT NOT NULL,
    document TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    saved_by BIGINT REFERENCES users (id),
    PRIMARY KEY (ledger_id, revision)
);
