-- Care-team information sharing (多職種情報共有): patients registered by an institution, their
-- consent to sharing (IHE PCF: opt-in with exclusions, withdrawal), the care team (users of
-- directory institutions with their profession) and the timeline (posts with vitals, read
-- receipts). Every read goes to the audit chain, not to a table here.

CREATE TABLE patients (
    id {{ID}},
    registered_by BIGINT NOT NULL REFERENCES institutions (id),
    area_code TEXT NOT NULL,
    name TEXT NOT NULL,
    kana TEXT NOT NULL,
    search_key TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    address TEXT NOT NULL,
    needs TEXT NOT NULL,
    contacts TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    updated_at TEXT NOT NULL
);

CREATE INDEX patients_by_institution ON patients (registered_by, id);

-- Every consent recorded, newest last; the newest one not withdrawn is in force.
CREATE TABLE patient_consents (
    id {{ID}},
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    consenter TEXT NOT NULL,
    given_on TEXT NOT NULL,
    excluded_institutions TEXT NOT NULL,
    excluded_professions TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by BIGINT REFERENCES users (id),
    withdrawn_at TEXT,
    withdrawn_by BIGINT REFERENCES users (id)
);

CREATE INDEX patient_consents_by_patient ON patient_consents (patient_id, id);

CREATE TABLE care_team_members (
    id {{ID}},
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    profession TEXT NOT NULL,
    added_at TEXT NOT NULL,
    added_by BIGINT REFERENCES users (id),
    removed_at TEXT,
    UNIQUE (patient_id, user_id)
);

CREATE INDEX care_team_by_user ON care_team_members (user_id, patient_id);

CREATE TABLE care_posts (
    id {{ID}},
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    author_id BIGINT NOT NULL REFERENCES users (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    profession TEXT NOT NULL,
    body TEXT NOT NULL,
    urgent BIGINT NOT NULL,
    systolic BIGINT,
    diastolic BIGINT,
    pulse BIGINT,
    spo2 BIGINT,
    temperature_tenths BIGINT,
    created_at TEXT NOT NULL
);

CREATE INDEX care_posts_by_patient ON care_posts (patient_id, id);

CREATE TABLE care_reads (
    post_id BIGINT NOT NULL REFERENCES care_posts (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    read_at TEXT NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

-- A hub coordinator's emergency access to a patient (break-glass): the reason, for an hour,
-- flagged until reviewed.
CREATE TABLE break_glass (
    id {{ID}},
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    reason TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    reviewed_at TEXT,
    reviewed_by BIGINT REFERENCES users (id)
);

CREATE INDEX break_glass_by_user ON break_glass (user_id, patient_id, expires_at);
