-- The rest of a directory entry: 医療機関コード, fax, web site, hours, contact, how the location
-- was obtained, emergency power and BCP, and the plans active institutions write for their roles.

ALTER TABLE institutions ADD COLUMN medical_code TEXT;

ALTER TABLE institutions ADD COLUMN fax TEXT;

ALTER TABLE institutions ADD COLUMN website TEXT;

ALTER TABLE institutions ADD COLUMN hours TEXT;

ALTER TABLE institutions ADD COLUMN contact_person TEXT;

ALTER TABLE institutions ADD COLUMN location_precision TEXT;

ALTER TABLE institutions ADD COLUMN power_kind TEXT NOT NULL DEFAULT 'unknown';

ALTER TABLE institutions ADD COLUMN power_capacity TEXT;

ALTER TABLE institutions ADD COLUMN power_lendable BIGINT NOT NULL DEFAULT 0;

ALTER TABLE institutions ADD COLUMN bcp_status TEXT NOT NULL DEFAULT 'unknown';

ALTER TABLE institution_roles ADD COLUMN plan TEXT;

UPDATE institutions SET location_precision = 'town' WHERE lat IS NOT NULL;

CREATE INDEX institutions_by_medical_code ON institutions (medical_code);
