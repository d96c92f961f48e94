-- Offline detection without scanning every tenant schema: each tenant keeps
-- in its rollup row the earliest moment one of its endpoints can become
-- overdue, and a periodic sweep visits only tenants whose moment has come:
--   SELECT tenant_id FROM control.tenant_rollups WHERE next_offline_at <= now()
-- Tenant roles write it through the SECURITY DEFINER function below, which
-- takes the tenant from the caller's role, so a tenant sets only its own row.

ALTER TABLE control.tenant_rollups ADD COLUMN next_offline_at timestamptz;

CREATE INDEX tenant_rollups_next_offline_idx ON control.tenant_rollups (next_offline_at)
    WHERE next_offline_at IS NOT NULL;

-- set_next_offline records the calling tenant's next offline deadline (NULL:
-- nothing to watch). An earlier deadline is always stored; a later one only
-- when it moves by more than slack. A deadline that is early is harmless (the
-- sweep finds nothing and stores the exact value), and the slack spares the
-- row a write on every check-in.
CREATE FUNCTION control_api.set_next_offline(deadline timestamptz, slack interval DEFAULT '0') RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    UPDATE control.tenant_rollups r SET next_offline_at = set_next_offline.deadline
    WHERE r.tenant_id = tid
      AND r.next_offline_at IS DISTINCT FROM set_next_offline.deadline
      AND (r.next_offline_at IS NULL OR set_next_offline.deadline IS NULL
           OR set_next_offline.deadline < r.next_offline_at
           OR set_next_offline.deadline > r.next_offline_at + slack);
    IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM control.tenant_rollups WHERE tenant_id = tid) THEN
        -- A schema without a control-plane row (only in tests) has nothing to record.
        INSERT INTO control.tenant_rollups (tenant_id, next_offline_at)
        SELECT tid, set_next_offline.deadline WHERE EXISTS (SELECT 1 FROM control.tenants WHERE id = tid)
        ON CONFLICT (tenant_id) DO UPDATE SET next_offline_at = EXCLUDED.next_offline_at;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION control_api.set_next_offline(timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION control_api.set_next_offline(timestamptz, interval) TO PUBLIC;
