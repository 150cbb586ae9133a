-- The audit chain's head is sealed with the audit key (HMAC over its sequence and hash), so
-- rewinding the head to hide entries cut from the end of the log needs the key as well as the
-- database. The seal is written by every append; an installation upgraded to this version has
-- its current head sealed once, by the first start with the key (Store::migrate).
ALTER TABLE audit_head ADD COLUMN seal TEXT;
