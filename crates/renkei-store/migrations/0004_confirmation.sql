-- Keeping the directory fresh: when an entry was last confirmed, the address reminders go to,
-- and one-time links that confirm an institution's entry.

ALTER TABLE institutions ADD COLUMN confirmed_at TEXT;

ALTER TABLE institutions ADD COLUMN contact_email TEXT;

ALTER TABLE one_time_tokens ADD COLUMN institution_id BIGINT REFERENCES institutions (id);
