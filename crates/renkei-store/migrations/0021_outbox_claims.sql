-- A mail being delivered is claimed until a time, so that two servers retrying the outbox (or
-- one retrying while another delivers it at once) never send it twice.

ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
