-- The hub's consultation window (電話相談窓口): each consultation a coordinator notes, with no
-- name of the caller; the directory institutions it was referred to; the follow-up and whether
-- its reminder went out.

CREATE TABLE consultations (
    id {{ID}},
    area_code TEXT NOT NULL,
    received_at TEXT NOT NULL,
    received_on TEXT NOT NULL,
    channel TEXT NOT NULL,
    caller TEXT NOT NULL,
    topics TEXT NOT NULL,
    actions TEXT NOT NULL,
    summary TEXT NOT NULL,
    minutes BIGINT NOT NULL,
    follow_up_on TEXT,
    follow_up_done_at TEXT,
    reminded_at TEXT,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX consultations_by_area_day ON consultations (area_code, received_on);
CREATE INDEX consultations_follow_up ON consultations (follow_up_on, follow_up_done_at);

CREATE TABLE consultation_referrals (
    consultation_id BIGINT NOT NULL REFERENCES consultations (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    PRIMARY KEY (consultation_id, institution_id)
);
