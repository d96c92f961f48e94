-- Per-tenant counters for cross-client views, kept current by tenant-plane
-- writes in the same transaction. Tenant roles cannot touch control tables;
-- they call the SECURITY DEFINER functions below, which take the tenant from
-- the caller's role setting, so a tenant can only ever change its own row.

CREATE TABLE control.tenant_rollups (
    tenant_id    bigint PRIMARY KEY REFERENCES control.tenants (id) ON DELETE CASCADE,
    active_users integer NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE SCHEMA control_api;
GRANT USAGE ON SCHEMA control_api TO PUBLIC;

-- caller_tenant returns the id of the tenant role the caller runs as.
-- Inside a SECURITY DEFINER function current_user is the owner; the role
-- setting still names the role the transaction switched to.
CREATE FUNCTION control_api.caller_tenant() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    r text := current_setting('role');
BEGIN
    IF r !~ '^tenant_[1-9][0-9]{0,17}$' THEN
        RAISE EXCEPTION 'rollups can only be changed from inside a tenant schema' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN substr(r, 8)::bigint;
END
$$;

CREATE FUNCTION control_api.rollup_add(counter text, delta integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    IF counter <> 'active_users' THEN
        RAISE EXCEPTION 'unknown rollup counter %', counter;
    END IF;
    -- A schema without a control-plane row (only in tests) has nothing to count.
    INSERT INTO control.tenant_rollups AS r (tenant_id, active_users)
    SELECT tid, greatest(delta, 0) WHERE EXISTS (SELECT 1 FROM control.tenants WHERE id = tid)
    ON CONFLICT (tenant_id) DO UPDATE SET active_users = greatest(r.active_users + delta, 0), updated_at = now();
END
$$;

CREATE FUNCTION control_api.rollup_set(counter text, value integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    IF counter <> 'active_users' THEN
        RAISE EXCEPTION 'unknown rollup counter %', counter;
    END IF;
    INSERT INTO control.tenant_rollups AS r (tenant_id, active_users)
    SELECT tid, value WHERE EXISTS (SELECT 1 FROM control.tenants WHERE id = tid)
    ON CONFLICT (tenant_id) DO UPDATE SET active_users = value, updated_at = now();
END
$$;

REVOKE ALL ON FUNCTION control_api.caller_tenant(), control_api.rollup_add(text, integer), control_api.rollup_set(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION control_api.caller_tenant(), control_api.rollup_add(text, integer), control_api.rollup_set(text, integer) TO PUBLIC;
