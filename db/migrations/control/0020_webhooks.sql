-- MSP-wide webhooks (issue 14): endpoints of the MSP's own tools (its PSA)
-- that receive the chosen events of every client, signed like a client's
-- webhook channel. Only owners and admins manage them.
CREATE TABLE control.webhooks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
    -- The HMAC key must be usable to sign, so it is stored as is; it is
    -- shown once, when the webhook is created.
    secret      text NOT NULL CHECK (length(secret) BETWEEN 16 AND 256),
    events      jsonb NOT NULL CHECK (jsonb_typeof(events) = 'array' AND jsonb_array_length(events) >= 1
        AND events <@ '["alert.created", "alert.acknowledged", "alert.resolved", "alert.assigned", "alert.noted",
                        "sla.warning", "sla.breached", "client.created", "client.suspended"]'::jsonb),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One delivery per webhook and event: the exact bytes sent (so a redelivery
-- is the same payload, and its signature covers what was first sent) and
-- where it stands. round counts redeliveries: each is a job of its own.
CREATE TABLE control.webhook_deliveries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id  bigint NOT NULL REFERENCES control.webhooks (id) ON DELETE CASCADE,
    delivery    text NOT NULL, -- X-Switchboard-Delivery
    event       text NOT NULL,
    tenant_id   bigint,        -- kept after the client is gone: this is a log
    alert_id    bigint,        -- orders one alert's deliveries (see notify/hooks_deliver.go)
    payload     text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    round       integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, delivery)
);
CREATE INDEX webhook_deliveries_recent_idx ON control.webhook_deliveries (webhook_id, id DESC);
CREATE INDEX webhook_deliveries_pending_idx ON control.webhook_deliveries (webhook_id, tenant_id, alert_id, id)
    WHERE status = 'pending';

-- Every attempt of every delivery, for the console's delivery log.
CREATE TABLE control.webhook_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES control.webhook_deliveries (id) ON DELETE CASCADE,
    round       integer NOT NULL,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    ok          boolean NOT NULL,
    status_code integer,       -- NULL when no answer came
    detail      text NOT NULL,
    duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON control.webhook_attempts (delivery_id, id);

-- client.created and client.suspended are control-plane changes: a trigger
-- records them in the control plane's outbox (0013) in the transaction that
-- activates or suspends the client, so the event exists exactly when the
-- change committed, whichever code path made it.
CREATE FUNCTION control.tenants_publish() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO control.outbox (kind, payload) VALUES (
        CASE WHEN NEW.status = 'active' THEN 'client.created' ELSE 'client.suspended' END,
        jsonb_build_object('tenant_id', NEW.id, 'slug', NEW.slug, 'name', NEW.name, 'at', now()));
    RETURN NULL;
END
$$;
CREATE TRIGGER tenants_publish_created AFTER INSERT ON control.tenants
    FOR EACH ROW WHEN (NEW.status = 'active') EXECUTE FUNCTION control.tenants_publish();
CREATE TRIGGER tenants_publish_changed AFTER UPDATE OF status ON control.tenants
    FOR EACH ROW WHEN ((OLD.status = 'provisioning' AND NEW.status = 'active')
        OR (OLD.status <> 'suspended' AND NEW.status = 'suspended'))
    EXECUTE FUNCTION control.tenants_publish();
