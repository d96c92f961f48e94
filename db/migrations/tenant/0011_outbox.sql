-- The tenant's outbox: events that a write with side effects records in its
-- own transaction (notify someone, schedule an SLA deadline, refresh a
-- report). Workers drain it in id order and delete what they handled, so
-- what was accepted is never lost between a commit and a job insert.
CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every statement that adds events marks the tenant due in the control plane
-- (same transaction), so finding work never means scanning schemas.
CREATE FUNCTION outbox_mark_due() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM control_api.outbox_mark_due();
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_mark_due AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_mark_due();

-- Notifications already made, so a re-drained event or a retried job never
-- sends the same one twice: one row per alert, channel and reason.
CREATE TABLE notification_deliveries (
    alert_id     bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel_id   bigint NOT NULL,
    reason       text NOT NULL DEFAULT '',
    delivered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, channel_id, reason)
);
