-- The bed board (空床情報): per institution and bed type, the physical beds, those that can
-- take a patient now and the conditions, each with the time it was last said.
CREATE TABLE bed_counts (
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    bed_type TEXT NOT NULL,
    physical BIGINT,
    physical_at TEXT,
    available BIGINT,
    available_at TEXT,
    conditions TEXT NOT NULL,
    conditions_at TEXT,
    updated_by BIGINT REFERENCES users (id),
    PRIMARY KEY (institution_id, bed_type)
);
