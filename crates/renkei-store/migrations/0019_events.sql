-- A hub's events (trainings, case conferences, public lectures, drills) and the people who
-- registered for them: one registration per address and event, cancelled by its own link,
-- checked in on the day.

CREATE TABLE events (
    id {{ID}},
    area_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    audience TEXT NOT NULL,
    title TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    place TEXT NOT NULL,
    online BIGINT NOT NULL,
    organiser TEXT NOT NULL,
    capacity BIGINT,
    public BIGINT NOT NULL,
    description TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    cancelled_at TEXT
);

CREATE INDEX events_by_start ON events (starts_at);
CREATE INDEX events_by_area ON events (area_code, starts_at);

CREATE TABLE event_registrations (
    id {{ID}},
    event_id BIGINT NOT NULL REFERENCES events (id),
    name TEXT NOT NULL,
    organisation TEXT NOT NULL,
    profession TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    registered_at TEXT NOT NULL,
    cancelled_at TEXT,
    attended_at TEXT
);

CREATE INDEX event_registrations_by_event ON event_registrations (event_id, email_key);
