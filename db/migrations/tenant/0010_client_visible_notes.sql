-- Staff choose which notes the client sees in its portal; everything else on
-- the timeline stays internal.
ALTER TABLE alert_events ADD COLUMN client_visible boolean NOT NULL DEFAULT false;
