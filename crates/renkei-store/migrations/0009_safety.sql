-- Safety checks (安否確認): a drill or a real alert, its targets (one per institution, each
-- with its own response link), and every version of every answer. An answer is committed
-- before the responder is told it was received.

CREATE TABLE safety_checks (
    id {{ID}},
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    targeting TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    deadline TEXT NOT NULL,
    closed_at TEXT,
    -- Reminders to send on their own: minutes before the deadline, as a JSON array.
    reminder_plan TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE safety_targets (
    id {{ID}},
    check_id BIGINT NOT NULL REFERENCES safety_checks (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    -- The link token is HMAC(key, target, salt): the database holds only the salt and the
    -- token's SHA-256, so a copy of the database cannot answer for anyone.
    link_salt TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    mail_id BIGINT REFERENCES outbox (id),
    reminders BIGINT NOT NULL DEFAULT 0,
    last_reminded_at TEXT,
    opened_at TEXT,
    answered_at TEXT,
    condition TEXT NOT NULL DEFAULT 'no_answer',
    UNIQUE (check_id, institution_id)
);

CREATE INDEX safety_targets_by_check ON safety_targets (check_id, answered_at);

CREATE TABLE safety_answers (
    id {{ID}},
    target_id BIGINT NOT NULL REFERENCES safety_targets (id),
    version BIGINT NOT NULL,
    answer TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    -- Taken by phone and entered by a coordinator (their user id), or NULL from the link.
    entered_by BIGINT REFERENCES users (id),
    UNIQUE (target_id, version)
);

-- Each reminder round (to all who had not answered, or to one), for the after-action summary.
CREATE TABLE safety_reminders (
    id {{ID}},
    check_id BIGINT NOT NULL REFERENCES safety_checks (id),
    target_id BIGINT REFERENCES safety_targets (id),
    mails BIGINT NOT NULL,
    sent_at TEXT NOT NULL,
    -- A scheduled round: its minutes before the deadline (claimed once, by one instance).
    planned BIGINT,
    UNIQUE (check_id, planned)
);

-- What an institution keeps in normal times for a disaster (generator, fuel, water, stock,
-- satellite phone, power-dependent home patients): readable by its hub, not public.
CREATE TABLE readiness_baselines (
    institution_id BIGINT PRIMARY KEY REFERENCES institutions (id),
    document TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id)
);
