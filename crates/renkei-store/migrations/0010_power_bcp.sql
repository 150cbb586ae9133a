-- Emergency power units institutions keep and lend (八尾市's 運用ルール), the BCP registry (date
-- of the last BCP drill, the plan as a PDF, who may read it), and mail refused for good.

-- A delivery the receiving server refused permanently (5xx): not retried, shown as 不達.
ALTER TABLE outbox ADD COLUMN bounced_at TEXT;

-- One unit of emergency power. Retired units stay for the lendings that name them.
CREATE TABLE power_units (
    id {{ID}},
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    output_watts BIGINT NOT NULL,
    capacity_wh BIGINT,
    runtime_hours BIGINT,
    fuel TEXT,
    lendable BIGINT NOT NULL,
    note TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    retired_at TEXT
);

CREATE INDEX power_units_by_institution ON power_units (institution_id);

-- An institution's rules for lending its units (運用ルール), shared with its hub.
CREATE TABLE power_rules (
    institution_id BIGINT PRIMARY KEY REFERENCES institutions (id),
    rules TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id)
);

-- A request to borrow a unit, and what became of it. No patient is named: the device, its
-- draw and the period are what the owner needs to decide.
CREATE TABLE power_lendings (
    id {{ID}},
    unit_id BIGINT NOT NULL REFERENCES power_units (id),
    requester_id BIGINT NOT NULL REFERENCES institutions (id),
    device TEXT NOT NULL,
    needed_watts BIGINT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    contact TEXT NOT NULL,
    note TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    requested_by BIGINT REFERENCES users (id),
    decided_at TEXT,
    decided_by BIGINT REFERENCES users (id),
    reason TEXT,
    returned_at TEXT
);

CREATE INDEX power_lendings_by_unit ON power_lendings (unit_id, status);

CREATE INDEX power_lendings_by_requester ON power_lendings (requester_id);

-- The BCP registry beyond the directory's status: the last BCP drill and sharing with the hub.
CREATE TABLE bcp_registry (
    institution_id BIGINT PRIMARY KEY REFERENCES institutions (id),
    last_drill_on TEXT,
    shared_with_hub BIGINT NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id)
);

-- Every uploaded version of an institution's BCP (the newest is the current one).
CREATE TABLE bcp_documents (
    id {{ID}},
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    file_name TEXT NOT NULL,
    content {{BLOB}} NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by BIGINT REFERENCES users (id)
);

CREATE INDEX bcp_documents_by_institution ON bcp_documents (institution_id, id);

-- The partner institutions an institution shares its BCP with.
CREATE TABLE bcp_partners (
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    partner_id BIGINT NOT NULL REFERENCES institutions (id),
    added_at TEXT NOT NULL,
    PRIMARY KEY (institution_id, partner_id)
);

CREATE INDEX bcp_partners_by_partner ON bcp_partners (partner_id);
