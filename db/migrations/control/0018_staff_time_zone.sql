-- Each staff user reads times in their own zone (an IANA name such as
-- Europe/Berlin). UTC until they choose: the console always names the zone
-- it shows, so the default is never mistaken for local time. The
-- application checks the name against the zone database, which PostgreSQL
-- cannot see the same way.
ALTER TABLE control.staff_users ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
