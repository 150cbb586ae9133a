-- Discharge conferences (退院前カンファレンス): the hospital's proposal with its time slots, the
-- invitees and their answers per slot, and the slot it fixed. A mail can carry an iCalendar
-- invitation (`outbox.calendar`, sent as a text/calendar part).

ALTER TABLE outbox ADD COLUMN calendar TEXT;

CREATE TABLE conferences (
    id {{ID}},
    hospital_id BIGINT NOT NULL REFERENCES institutions (id),
    subject TEXT NOT NULL,
    place TEXT NOT NULL,
    minutes BIGINT NOT NULL,
    status TEXT NOT NULL,
    fixed_slot BIGINT,
    sequence BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    updated_at TEXT NOT NULL
);

CREATE INDEX conferences_by_hospital ON conferences (hospital_id, id);

CREATE TABLE conference_slots (
    id {{ID}},
    conference_id BIGINT NOT NULL REFERENCES conferences (id),
    starts_at TEXT NOT NULL
);

CREATE INDEX conference_slots_by_conference ON conference_slots (conference_id, starts_at);

CREATE TABLE conference_invitees (
    id {{ID}},
    conference_id BIGINT NOT NULL REFERENCES conferences (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    role TEXT NOT NULL,
    UNIQUE (conference_id, institution_id, role)
);

CREATE INDEX conference_invitees_by_institution ON conference_invitees (institution_id);

CREATE TABLE conference_answers (
    invitee_id BIGINT NOT NULL REFERENCES conference_invitees (id),
    slot_id BIGINT NOT NULL REFERENCES conference_slots (id),
    answer TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    answered_by BIGINT REFERENCES users (id),
    PRIMARY KEY (invitee_id, slot_id)
);
