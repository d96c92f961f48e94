-- Outbound events for PSA tools (issue 14). Channels subscribe to the full
-- alert event set under its published names: a new alert is alert.created
-- (was alert.firing), an SLA escalation is sla.warning or sla.breached (was
-- alert.escalated, which meant both), plus alert.assigned and alert.noted.
ALTER TABLE notification_channels DROP CONSTRAINT notification_channels_events_check;
UPDATE notification_channels SET events = (
    SELECT jsonb_agg(DISTINCT e) FROM jsonb_array_elements_text(events) AS old(name),
        LATERAL unnest(CASE old.name
            WHEN 'alert.firing' THEN ARRAY['alert.created']
            WHEN 'alert.escalated' THEN ARRAY['sla.warning', 'sla.breached']
            ELSE ARRAY[old.name] END) AS e);
ALTER TABLE notification_channels
    ALTER COLUMN events SET DEFAULT '["alert.created", "sla.warning", "sla.breached"]',
    ADD CONSTRAINT notification_channels_events_check
        CHECK (jsonb_typeof(events) = 'array' AND jsonb_array_length(events) >= 1
            AND events <@ '["alert.created", "alert.acknowledged", "alert.resolved", "alert.assigned", "alert.noted", "sla.warning", "sla.breached"]'::jsonb),
    -- A client-facing channel reaches the client's own people or tools: it
    -- receives only notes the client may read. MSP-side channels (the
    -- default, what every channel was) receive internal notes too.
    ADD COLUMN client_facing boolean NOT NULL DEFAULT false;

-- Notes and assignments are published from the timeline entry that records
-- them, in the same transaction (a row trigger, so every way of writing a
-- note - console, portal reply, API - publishes it). The event carries the
-- entry; notify delivers it as alert.noted or alert.assigned.
CREATE FUNCTION alert_events_publish() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (kind, payload) VALUES ('alert.timeline', jsonb_build_object(
        'alert_id', NEW.alert_id, 'entry_id', NEW.id, 'kind', NEW.kind, 'actor', NEW.actor,
        'body', NEW.body, 'client_visible', NEW.client_visible, 'at', NEW.at));
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_events_publish AFTER INSERT ON alert_events
    FOR EACH ROW WHEN (NEW.kind IN ('note', 'client_note', 'assigned'))
    EXECUTE FUNCTION alert_events_publish();
