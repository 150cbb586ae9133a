-- The consultation list reads an area's notes newest first, a month at a time: an index in
-- that order lets it stop after the page instead of sorting the whole month (the soak test
-- found the list slowing down as notes grew).

CREATE INDEX consultations_by_area_time ON consultations (area_code, received_at, id);
