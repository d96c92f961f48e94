-- Alerts, their timelines and silences.

CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint     text NOT NULL,
    source          text NOT NULL,
    rule            text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status          text NOT NULL CHECK (status IN ('firing', 'acknowledged', 'resolved', 'suppressed')),
    summary         text NOT NULL DEFAULT '',
    description     text NOT NULL DEFAULT '',
    labels          jsonb NOT NULL DEFAULT '{}',
    endpoint        text NOT NULL DEFAULT '',
    occurrences     integer NOT NULL DEFAULT 1,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    resolved_at     timestamptz,
    assignee        text NOT NULL DEFAULT '',
    silence_id      bigint
);
-- At most one open (firing, acknowledged or suppressed) alert per fingerprint:
-- a repeat updates it, a trigger after resolution opens a new one.
CREATE UNIQUE INDEX alerts_open_fingerprint ON alerts (fingerprint) WHERE status IN ('firing', 'acknowledged', 'suppressed');
CREATE INDEX alerts_status_idx ON alerts (status, severity, last_seen_at DESC);

CREATE TABLE alert_events (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT now(),
    kind     text NOT NULL,
    actor    text NOT NULL DEFAULT '',
    body     text NOT NULL DEFAULT ''
);
CREATE INDEX alert_events_alert_idx ON alert_events (alert_id, id);

CREATE TABLE silences (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    matchers   jsonb NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL CHECK (ends_at > starts_at),
    comment    text NOT NULL DEFAULT '',
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Open-alert counts per severity in control.tenant_rollups follow every change.
CREATE FUNCTION alerts_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('firing', 'acknowledged') THEN
        PERFORM control_api.rollup_add('open_' || OLD.severity, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('firing', 'acknowledged') THEN
        PERFORM control_api.rollup_add('open_' || NEW.severity, 1);
    END IF;
    RETURN NULL;
END
$$;
-- Repeats of an open alert rewrite status and severity with the same values;
-- only real changes touch the rollup (and its row lock).
CREATE TRIGGER alerts_rollup_insert AFTER INSERT ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_rollup();
CREATE TRIGGER alerts_rollup_update AFTER UPDATE OF status, severity ON alerts
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.severity IS DISTINCT FROM NEW.severity)
    EXECUTE FUNCTION alerts_rollup();
CREATE TRIGGER alerts_rollup_delete AFTER DELETE ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_rollup();
