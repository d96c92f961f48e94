-- Open-alert counts per severity join the per-tenant rollups. The counter
-- functions now accept any whitelisted counter column.

ALTER TABLE control.tenant_rollups
    ADD COLUMN open_critical integer NOT NULL DEFAULT 0,
    ADD COLUMN open_warning  integer NOT NULL DEFAULT 0,
    ADD COLUMN open_info     integer NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION control_api.rollup_add(counter text, delta integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    IF counter NOT IN ('active_users', 'open_critical', 'open_warning', 'open_info') THEN
        RAISE EXCEPTION 'unknown rollup counter %', counter;
    END IF;
    -- A schema without a control-plane row (only in tests) has nothing to count.
    INSERT INTO control.tenant_rollups (tenant_id)
    SELECT tid WHERE EXISTS (SELECT 1 FROM control.tenants WHERE id = tid)
    ON CONFLICT (tenant_id) DO NOTHING;
    EXECUTE format('UPDATE control.tenant_rollups SET %I = greatest(%I + $1, 0), updated_at = now() WHERE tenant_id = $2', counter, counter)
        USING delta, tid;
END
$$;

CREATE OR REPLACE FUNCTION control_api.rollup_set(counter text, value integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    IF counter NOT IN ('active_users', 'open_critical', 'open_warning', 'open_info') THEN
        RAISE EXCEPTION 'unknown rollup counter %', counter;
    END IF;
    INSERT INTO control.tenant_rollups (tenant_id)
    SELECT tid WHERE EXISTS (SELECT 1 FROM control.tenants WHERE id = tid)
    ON CONFLICT (tenant_id) DO NOTHING;
    EXECUTE format('UPDATE control.tenant_rollups SET %I = $1, updated_at = now() WHERE tenant_id = $2', counter)
        USING value, tid;
END
$$;
