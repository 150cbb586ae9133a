-- A checked file's plan is kept deflated (JSON through DEFLATE, written and read as a stream):
-- a 200,000-row file's plan was 149 MB of JSON text, held whole in memory two or three times
-- over while it was stored and read back. `plan` stays for rows checked by an earlier version
-- and is '' in new ones.

ALTER TABLE pending_imports ADD COLUMN plan_deflated {{BLOB}};
