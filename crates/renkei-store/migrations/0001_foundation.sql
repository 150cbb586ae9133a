-- Foundation: the region (prefecture, medical region, municipalities, areas and their hubs),
-- the town table, and institutions with their active-institution role statuses.
-- Portable SQL for SQLite and PostgreSQL: {{ID}} is the dialect's auto-increment primary key,
-- flags are BIGINT 0/1, timestamps are UTC RFC 3339 text (see ARCHITECTURE.md).

CREATE TABLE prefectures (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE medical_regions (
    code TEXT PRIMARY KEY,
    prefecture_code TEXT NOT NULL REFERENCES prefectures (code),
    name TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE municipalities (
    code TEXT PRIMARY KEY,
    prefecture_code TEXT NOT NULL REFERENCES prefectures (code),
    region_code TEXT NOT NULL REFERENCES medical_regions (code),
    name TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE areas (
    id {{ID}},
    code TEXT NOT NULL UNIQUE,
    region_code TEXT NOT NULL REFERENCES medical_regions (code),
    municipality_code TEXT NOT NULL REFERENCES municipalities (code),
    name TEXT NOT NULL,
    name_en TEXT NOT NULL,
    document TEXT NOT NULL,
    sort_order BIGINT NOT NULL
);

CREATE TABLE hubs (
    id {{ID}},
    area_id BIGINT NOT NULL UNIQUE REFERENCES areas (id),
    contractor TEXT NOT NULL
);

CREATE TABLE hub_operators (
    hub_id BIGINT NOT NULL REFERENCES hubs (id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (hub_id, position)
);

CREATE TABLE towns (
    id {{ID}},
    municipality_code TEXT NOT NULL REFERENCES municipalities (code),
    name TEXT NOT NULL,
    search_key TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    area_id BIGINT REFERENCES areas (id),
    area_assignment TEXT NOT NULL,
    UNIQUE (municipality_code, name)
);

CREATE TABLE institutions (
    id {{ID}},
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    search_key TEXT NOT NULL,
    area_id BIGINT NOT NULL REFERENCES areas (id),
    municipality_code TEXT NOT NULL REFERENCES municipalities (code),
    town_id BIGINT REFERENCES towns (id),
    postcode TEXT,
    address TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lng DOUBLE PRECISION,
    phone TEXT,
    has_beds BIGINT NOT NULL DEFAULT 0,
    is_demo BIGINT NOT NULL DEFAULT 0,
    is_active BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX institutions_by_area_kind ON institutions (area_id, kind);

CREATE TABLE institution_roles (
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (institution_id, role)
);
