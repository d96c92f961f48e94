-- Idempotency keys of the staff API become claims: a request inserts its key
-- before it runs (status 0, pending), so a concurrent repeat is refused with
-- 409 instead of creating twice; the finished answer keeps its Location.
ALTER TABLE control.api_idempotency ADD COLUMN location text NOT NULL DEFAULT '';
