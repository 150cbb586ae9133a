-- Surveys of a hub: a questionnaire (its questions as JSON, frozen once sent) sent by link to
-- institutions, or to the people registered for an event (the post-event questionnaire, one
-- per event). A recipient answers once; the answers of an event's questionnaire keep no link
-- to who gave them.

CREATE TABLE surveys (
    id {{ID}},
    area_code TEXT NOT NULL,
    event_id BIGINT REFERENCES events (id),
    title TEXT NOT NULL,
    intro TEXT NOT NULL,
    questions TEXT NOT NULL,
    closes_on TEXT,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    closed_at TEXT
);

CREATE INDEX surveys_by_area ON surveys (area_code, created_at);
CREATE UNIQUE INDEX surveys_one_per_event ON surveys (event_id);

CREATE TABLE survey_recipients (
    id {{ID}},
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    institution_id BIGINT REFERENCES institutions (id),
    registration_id BIGINT REFERENCES event_registrations (id),
    sent_at TEXT NOT NULL,
    reminded_at TEXT,
    answered_at TEXT
);

CREATE UNIQUE INDEX survey_recipients_institution ON survey_recipients (survey_id, institution_id);
CREATE UNIQUE INDEX survey_recipients_registration ON survey_recipients (survey_id, registration_id);

CREATE TABLE survey_responses (
    id {{ID}},
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    recipient_id BIGINT REFERENCES survey_recipients (id),
    answers TEXT NOT NULL,
    submitted_at TEXT NOT NULL
);

CREATE INDEX survey_responses_by_survey ON survey_responses (survey_id, id);
