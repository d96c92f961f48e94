-- Endpoint agents: enrollment tokens, the endpoint inventory with its latest
-- metrics, a bounded metrics history, and the per-condition clocks behind
-- threshold evaluation.

-- Tokens are stored as the SHA-256 of a high-entropy secret; the plaintext is
-- shown once. uses <= max_uses is a CHECK so that even a bug in the claiming
-- UPDATE cannot over-use a token.
CREATE TABLE enrollment_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    max_uses     integer NOT NULL CHECK (max_uses BETWEEN 1 AND 100000),
    uses         integer NOT NULL DEFAULT 0 CHECK (uses BETWEEN 0 AND max_uses),
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- One row per machine (hostname unique per tenant). credential_hash is the
-- SHA-256 of the endpoint's secret; re-enrolling replaces it.
-- offline_alert: an "endpoint offline" alert is open as far as this schema
-- knows (set only after the alerts module accepted the signal).
CREATE TABLE endpoints (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hostname        text NOT NULL UNIQUE CHECK (length(hostname) BETWEEN 1 AND 253),
    os              text NOT NULL DEFAULT '',
    credential_hash bytea NOT NULL,
    token_id        bigint REFERENCES enrollment_tokens (id) ON DELETE SET NULL,
    enrolled_at     timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline')),
    offline_alert   boolean NOT NULL DEFAULT false,
    uptime_seconds  bigint,
    cpu_percent     double precision CHECK (cpu_percent BETWEEN 0 AND 100),
    memory_percent  double precision CHECK (memory_percent BETWEEN 0 AND 100),
    disks           jsonb NOT NULL DEFAULT '[]'
);
-- The endpoints offline detection must watch: online ones (they may go
-- quiet) and offline ones whose alert is not yet raised. The earliest
-- last_seen_at among them is one index probe.
CREATE INDEX endpoints_watch_idx ON endpoints (last_seen_at) WHERE status = 'online' OR NOT offline_alert;

-- One row per check-in; rows older than the retention are deleted by later
-- check-ins of the same endpoint, so the table stays bounded per endpoint.
CREATE TABLE endpoint_metrics (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id    bigint NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    at             timestamptz NOT NULL,
    uptime_seconds bigint NOT NULL,
    cpu_percent    double precision NOT NULL,
    memory_percent double precision NOT NULL,
    disks          jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX endpoint_metrics_endpoint_at_idx ON endpoint_metrics (endpoint_id, at);

-- Per endpoint, threshold and (for disk_percent) mount: since when the
-- condition has held without a break, and whether its alert is open.
CREATE TABLE threshold_states (
    endpoint_id bigint NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    rule        text NOT NULL,
    mount       text NOT NULL DEFAULT '',
    since       timestamptz,
    firing      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (endpoint_id, rule, mount)
);
