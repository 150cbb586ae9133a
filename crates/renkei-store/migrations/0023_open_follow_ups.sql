-- The consultation page lists the area's open follow-ups on every view. Without an index for
-- them it read every note of the area to find the few still open (the PostgreSQL soak run
-- found the page slowing as notes piled up); this partial index holds only the open ones.

CREATE INDEX consultations_open_follow_ups ON consultations (area_code, received_at, id)
    WHERE follow_up_on IS NOT NULL AND follow_up_done_at IS NULL;
