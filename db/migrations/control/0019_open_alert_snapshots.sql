-- The console home's chart of open alerts over time. A periodic job copies
-- the per-client open critical and warning counts from the rollups (one read
-- per cell server) into one row per busy client per UTC day, replacing the
-- day's rows on every run, so a day keeps the counts of its last run. The
-- chart sums a day's rows over the clients the viewer may see: its cost
-- follows the busy clients and the days shown, never the tenant schemas.
--
-- Only clients with something open get a row; open_alert_snapshot_days
-- records the days a snapshot was taken, so a day with no rows reads as zero
-- open alerts when it was recorded and as "no record" when it was not.

CREATE TABLE control.open_alert_snapshots (
    day           date NOT NULL,
    tenant_id     bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    open_critical integer NOT NULL CHECK (open_critical >= 0),
    open_warning  integer NOT NULL CHECK (open_warning >= 0),
    PRIMARY KEY (day, tenant_id)
);
CREATE INDEX open_alert_snapshots_tenant_idx ON control.open_alert_snapshots (tenant_id);

CREATE TABLE control.open_alert_snapshot_days (
    day      date PRIMARY KEY,
    taken_at timestamptz NOT NULL
);
