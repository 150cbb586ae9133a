-- Care-team sharing, second part: files on the timeline and the signed consent form (sealed at
-- rest: AES-256-GCM under a key derived from the server's secret, bound to the patient),
-- mentions, the physician's visit record (the items 在宅医療情報連携加算 asks for), and the
-- partners an institution marks as 特別の関係 (not counted as 連携機関).

CREATE TABLE care_attachments (
    id {{ID}},
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    post_id BIGINT REFERENCES care_posts (id),
    consent_id BIGINT REFERENCES patient_consents (id),
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    nonce {{BLOB}} NOT NULL,
    sealed {{BLOB}} NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by BIGINT REFERENCES users (id)
);

CREATE INDEX care_attachments_by_post ON care_attachments (post_id);
CREATE INDEX care_attachments_by_consent ON care_attachments (consent_id);

-- Team members a post was addressed to; seen when they open the patient.
CREATE TABLE care_mentions (
    post_id BIGINT NOT NULL REFERENCES care_posts (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    seen_at TEXT,
    PRIMARY KEY (post_id, user_id)
);

CREATE INDEX care_mentions_by_user ON care_mentions (user_id, seen_at, patient_id);

-- The physician's visit record on a post: ① next visit and whether the plan changed, ② what
-- changed, ③ points to heed.
ALTER TABLE care_posts ADD COLUMN next_visit_on TEXT;
ALTER TABLE care_posts ADD COLUMN plan_changed BIGINT;
ALTER TABLE care_posts ADD COLUMN plan_change TEXT;
ALTER TABLE care_posts ADD COLUMN care_points TEXT;
-- The post's text as searched: full-width/half-width, kana and case folded (NULL for posts
-- written before this migration, which are searched by their text as written).
ALTER TABLE care_posts ADD COLUMN search_text TEXT;

CREATE INDEX care_posts_by_patient_time ON care_posts (patient_id, created_at);
CREATE INDEX care_posts_by_institution_time ON care_posts (institution_id, created_at);
CREATE INDEX care_reads_by_user ON care_reads (user_id, read_at);
CREATE INDEX care_team_by_institution ON care_team_members (institution_id, patient_id);

CREATE TABLE ict_special_relations (
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    partner_id BIGINT NOT NULL REFERENCES institutions (id),
    marked_at TEXT NOT NULL,
    marked_by BIGINT REFERENCES users (id),
    PRIMARY KEY (institution_id, partner_id)
);
