-- Urgent requests between institutions (急変時の依頼): urgent visit support, consultation,
-- emergency and respite admission, services after discharge. The case summary names nobody.

-- One request. `current_ring` is the last ring asked; `ring_opened_at` when it was asked.
-- The first acceptance sets `status` to 'accepted' in one conditional UPDATE, so a second
-- acceptance at the same instant finds nothing to update.
CREATE TABLE urgent_requests (
    id {{ID}},
    requester_id BIGINT NOT NULL REFERENCES institutions (id),
    area_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    age_band TEXT NOT NULL,
    sex TEXT NOT NULL,
    condition_text TEXT NOT NULL,
    needs TEXT NOT NULL,
    needed TEXT NOT NULL,
    place TEXT NOT NULL,
    contact TEXT NOT NULL,
    routing TEXT NOT NULL,
    escalate_minutes BIGINT,
    rings_total BIGINT NOT NULL,
    current_ring BIGINT NOT NULL,
    ring_opened_at TEXT NOT NULL,
    exhausted_at TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    accepted_institution BIGINT REFERENCES institutions (id),
    accepted_at TEXT,
    accepted_by BIGINT REFERENCES users (id),
    closed_at TEXT
);

CREATE INDEX urgent_requests_by_requester ON urgent_requests (requester_id, id);

CREATE INDEX urgent_requests_by_status ON urgent_requests (status, ring_opened_at);

CREATE INDEX urgent_requests_by_area ON urgent_requests (area_code, created_at);

-- Who is asked, in which ring, and what they answered. `notified_at` is set when their ring
-- is asked; before that they do not see the request.
CREATE TABLE urgent_recipients (
    request_id BIGINT NOT NULL REFERENCES urgent_requests (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    ring BIGINT NOT NULL,
    distance_m BIGINT NOT NULL,
    notified_at TEXT,
    answer TEXT,
    reason TEXT,
    note TEXT,
    answered_at TEXT,
    answered_by BIGINT REFERENCES users (id),
    PRIMARY KEY (request_id, institution_id)
);

CREATE INDEX urgent_recipients_by_institution ON urgent_recipients (institution_id, request_id);

-- The timeline of a request, in order.
CREATE TABLE urgent_events (
    id {{ID}},
    request_id BIGINT NOT NULL REFERENCES urgent_requests (id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    institution_id BIGINT REFERENCES institutions (id),
    ring BIGINT,
    detail TEXT NOT NULL
);

CREATE INDEX urgent_events_by_request ON urgent_events (request_id, id);
