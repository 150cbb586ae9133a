-- A directory file checked in the browser waits here for the coordinator's go-ahead, and its
-- application reports progress here, so that the check, the go-ahead and the progress page may
-- each be served by a different instance behind the load balancer. The plan is JSON; it is
-- cleared once applied.

CREATE TABLE pending_imports (
    import_key TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    file_name TEXT NOT NULL,
    bad_rows BIGINT NOT NULL,
    plan TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- checked, running, done or failed
    state TEXT NOT NULL,
    total BIGINT NOT NULL,
    written BIGINT NOT NULL,
    -- new,updated,unchanged,left_out once done
    counts TEXT,
    -- while running: the applying instance's last sign of life
    heartbeat_at TEXT
);

CREATE INDEX pending_imports_by_time ON pending_imports (created_at);
