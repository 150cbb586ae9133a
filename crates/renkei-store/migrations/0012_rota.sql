-- On-call rotas of groups of institutions (グループ診療の当番表): the group, its members and who
-- covers each slot. Two members on one slot are allowed in storage and shown as a double
-- booking; the same member twice on one slot is not.

CREATE TABLE rota_groups (
    id {{ID}},
    name TEXT NOT NULL,
    area_code TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id)
);

CREATE INDEX rota_groups_by_area ON rota_groups (area_code);

-- A member invited by another is shown as invited until its own staff accept
-- (`accepted_at`); only accepted members are put on the rota.
CREATE TABLE rota_members (
    group_id BIGINT NOT NULL REFERENCES rota_groups (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    added_at TEXT NOT NULL,
    accepted_at TEXT,
    PRIMARY KEY (group_id, institution_id)
);

CREATE INDEX rota_members_by_institution ON rota_members (institution_id);

CREATE TABLE rota_shifts (
    id {{ID}},
    group_id BIGINT NOT NULL REFERENCES rota_groups (id),
    day TEXT NOT NULL,
    slot TEXT NOT NULL,
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    doctor TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    UNIQUE (group_id, day, slot, institution_id)
);

CREATE INDEX rota_shifts_by_day ON rota_shifts (group_id, day);
