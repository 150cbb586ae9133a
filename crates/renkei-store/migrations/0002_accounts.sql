-- Accounts and security: organisations, users, memberships with roles, two-factor secrets and
-- recovery codes, server-side sessions, login attempts for throttling, one-time tokens
-- (invitations, password resets), API tokens, the mail outbox, settings, and the hash-chained
-- audit log. Secrets are stored only as SHA-256 hashes (tokens) or Argon2id hashes (passwords).

CREATE TABLE organisations (
    id {{ID}},
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    area_id BIGINT REFERENCES areas (id),
    institution_id BIGINT REFERENCES institutions (id),
    prefecture_code TEXT REFERENCES prefectures (code),
    created_at TEXT NOT NULL
);

CREATE UNIQUE INDEX organisations_by_institution ON organisations (institution_id);

CREATE TABLE users (
    id {{ID}},
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    password_changed_at TEXT,
    totp_secret TEXT,
    totp_pending_secret TEXT,
    totp_last_step BIGINT,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE memberships (
    user_id BIGINT NOT NULL REFERENCES users (id),
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, organisation_id, role)
);

CREATE TABLE recovery_codes (
    id {{ID}},
    user_id BIGINT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL,
    used_at TEXT
);

CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    second_factor_done BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    client TEXT NOT NULL,
    user_agent TEXT NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE login_attempts (
    id {{ID}},
    throttle_key TEXT NOT NULL,
    at TEXT NOT NULL,
    succeeded BIGINT NOT NULL
);

CREATE INDEX login_attempts_by_key ON login_attempts (throttle_key, at);

CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id),
    email TEXT,
    organisation_id BIGINT REFERENCES organisations (id),
    role TEXT,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE TABLE api_tokens (
    id {{ID}},
    user_id BIGINT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);

CREATE TABLE outbox (
    id {{ID}},
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The audit log: append-only, each row chained to the previous by hash. audit_head holds the
-- last sequence number and hash; updating it first serialises writers on both engines.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor_user_id BIGINT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    target TEXT NOT NULL,
    client TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE INDEX audit_log_by_action ON audit_log (action, at);
CREATE INDEX audit_log_by_actor ON audit_log (actor_user_id, at);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
