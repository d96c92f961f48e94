-- Channels choose the alert events they receive: new alerts and SLA
-- escalations (what every channel received before), and acknowledgements
-- and resolutions, so that a ticket opened by a webhook can follow its alert.
ALTER TABLE notification_channels
    ADD COLUMN events jsonb NOT NULL DEFAULT '["alert.firing", "alert.escalated"]'
        CHECK (jsonb_typeof(events) = 'array' AND jsonb_array_length(events) >= 1
            AND events <@ '["alert.firing", "alert.escalated", "alert.acknowledged", "alert.resolved"]'::jsonb);

-- A third kind, "inbox": a built-in receiver that records what it is sent
-- in this schema (no network), so a demo or a lab has a working channel.
ALTER TABLE notification_channels DROP CONSTRAINT notification_channels_kind_check;
ALTER TABLE notification_channels ADD CONSTRAINT notification_channels_kind_check
    CHECK (kind IN ('email', 'webhook', 'inbox'));
ALTER TABLE notification_channels DROP CONSTRAINT notification_channels_check;
ALTER TABLE notification_channels ADD CONSTRAINT notification_channels_check
    CHECK ((kind = 'email' AND jsonb_array_length(email_to) BETWEEN 1 AND 20 AND webhook_url = '' AND webhook_secret = '')
        OR (kind = 'webhook' AND email_to = '[]' AND webhook_url ~ '^https?://' AND length(webhook_secret) >= 16)
        OR (kind = 'inbox' AND email_to = '[]' AND webhook_url = '' AND webhook_secret = ''));

-- What inbox channels received: the webhook payload, as it would have been
-- sent. Only the newest messages per channel are kept (see notify/inbox.go).
CREATE TABLE notification_inbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id  bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    alert_id    bigint, -- NULL for a test message
    event       text NOT NULL,
    subject     text NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_inbox_channel_idx ON notification_inbox (channel_id, id DESC);
