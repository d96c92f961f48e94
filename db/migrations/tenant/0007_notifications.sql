-- Notification channels: where a tenant's alerts are sent (routing policies
-- name them). Deliveries themselves are River jobs in the control plane; their
-- outcomes go on the alert's timeline (alert_events: notified, notify_failed).

CREATE TABLE notification_channels (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    kind           text NOT NULL CHECK (kind IN ('email', 'webhook')),
    email_to       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(email_to) = 'array'),
    webhook_url    text NOT NULL DEFAULT '',
    -- The HMAC key must be usable to sign, so it is stored as is; only the
    -- tenant's role can read it.
    webhook_secret text NOT NULL DEFAULT '',
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'email' AND jsonb_array_length(email_to) BETWEEN 1 AND 20 AND webhook_url = '' AND webhook_secret = '')
        OR (kind = 'webhook' AND email_to = '[]' AND webhook_url ~ '^https?://' AND length(webhook_secret) >= 16))
);
