-- Backup coverage while a doctor is away (不在時のバックアップ): the absences an institution
-- records and the institutions it asks to cover, with their answers. Cancelled absences and
-- every answer are kept as history.

CREATE TABLE absences (
    id {{ID}},
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    doctor TEXT NOT NULL,
    doctor_key TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    cancelled_at TEXT
);

CREATE INDEX absences_by_institution ON absences (institution_id, ends_on);

CREATE INDEX absences_by_end ON absences (ends_on);

CREATE TABLE coverages (
    id {{ID}},
    absence_id BIGINT NOT NULL REFERENCES absences (id),
    backup_id BIGINT NOT NULL REFERENCES institutions (id),
    status TEXT NOT NULL,
    reason TEXT,
    requested_at TEXT NOT NULL,
    requested_by BIGINT REFERENCES users (id),
    decided_at TEXT,
    decided_by BIGINT REFERENCES users (id),
    UNIQUE (absence_id, backup_id)
);

CREATE INDEX coverages_by_backup ON coverages (backup_id, status);
