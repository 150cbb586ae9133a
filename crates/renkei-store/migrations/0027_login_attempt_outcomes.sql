-- The login throttle asks, for each key, for the last success before an attempt and the
-- failures after it (by id). With only (throttle_key, at) indexed, both read every attempt the
-- key ever had, inside the reservation's write transaction: a 30-minute soak showed the login
-- step's p99 grow from 147 ms to 888 ms as the attempts of its few accounts piled up.
CREATE INDEX login_attempts_by_outcome ON login_attempts (throttle_key, succeeded, id);
