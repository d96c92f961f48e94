-- What a tenant's transaction writes outside its own schema lives on the
-- tenant's own server: the counters behind the cross-client views and the
-- outbox's due markers. Every server that holds cells has these tables and
-- functions; the console reads one summary per server and merges them.
--
-- On the control plane's server they already exist (control migrations
-- 0003-0013 made them, with foreign keys to control.tenants); this file
-- brings them to the one definition every server shares: no reference to
-- control.tenants (which other servers do not have), so deleting or moving
-- a tenant removes its rows explicitly. Tenant roles cannot touch these
-- tables; they call the SECURITY DEFINER functions below, which take the
-- tenant from the caller's role, so a tenant can only change its own rows.

CREATE SCHEMA IF NOT EXISTS control;
CREATE SCHEMA IF NOT EXISTS control_api;
GRANT USAGE ON SCHEMA control_api TO PUBLIC;

CREATE TABLE IF NOT EXISTS control.tenant_rollups (
    tenant_id       bigint PRIMARY KEY,
    active_users    integer NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    open_critical   integer NOT NULL DEFAULT 0,
    open_warning    integer NOT NULL DEFAULT 0,
    open_info       integer NOT NULL DEFAULT 0,
    next_offline_at timestamptz
);
ALTER TABLE control.tenant_rollups DROP CONSTRAINT IF EXISTS tenant_rollups_tenant_id_fkey;
CREATE INDEX IF NOT EXISTS tenant_rollups_next_offline_idx ON control.tenant_rollups (next_offline_at)
    WHERE next_offline_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS control.sla_rollups (
    tenant_id          bigint NOT NULL,
    month              date NOT NULL,
    alerts             integer NOT NULL DEFAULT 0,
    response_decided   integer NOT NULL DEFAULT 0,
    response_met       integer NOT NULL DEFAULT 0,
    resolution_decided integer NOT NULL DEFAULT 0,
    resolution_met     integer NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, month)
);
ALTER TABLE control.sla_rollups DROP CONSTRAINT IF EXISTS sla_rollups_tenant_id_fkey;

CREATE TABLE IF NOT EXISTS control.policy_overrides (
    tenant_id  bigint NOT NULL,
    policy_key text NOT NULL,
    PRIMARY KEY (policy_key, tenant_id)
);
ALTER TABLE control.policy_overrides DROP CONSTRAINT IF EXISTS policy_overrides_tenant_id_fkey;

CREATE TABLE IF NOT EXISTS control.outbox_due (
    tenant_id  bigint PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 1,
    due_since  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE control.outbox_due DROP CONSTRAINT IF EXISTS outbox_due_tenant_id_fkey;

-- caller_tenant returns the id of the tenant role the caller runs as.
-- Inside a SECURITY DEFINER function current_user is the owner; the role
-- setting still names the role the transaction switched to.
CREATE OR REPLACE FUNCTION control_api.caller_tenant() RETURNS bigint
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

CREATE OR REPLACE FUNCTION control_api.rollup_add(counter text, delta integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    IF counter NOT IN ('active_users', 'open_critical', 'open_warning', 'open_info') THEN
        RAISE EXCEPTION 'unknown rollup counter %', counter;
    END IF;
    INSERT INTO control.tenant_rollups (tenant_id) VALUES (tid) ON CONFLICT (tenant_id) DO NOTHING;
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
    INSERT INTO control.tenant_rollups (tenant_id) VALUES (tid) ON CONFLICT (tenant_id) DO NOTHING;
    EXECUTE format('UPDATE control.tenant_rollups SET %I = $1, updated_at = now() WHERE tenant_id = $2', counter)
        USING value, tid;
END
$$;

-- set_next_offline records the calling tenant's next offline deadline (NULL:
-- nothing to watch). An earlier deadline is always stored; a later one only
-- when it moves by more than slack, which spares the row a write on every
-- check-in (an early deadline only makes the sweep find nothing).
CREATE OR REPLACE FUNCTION control_api.set_next_offline(deadline timestamptz, slack interval DEFAULT '0') RETURNS void
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
        INSERT INTO control.tenant_rollups (tenant_id, next_offline_at) VALUES (tid, set_next_offline.deadline)
        ON CONFLICT (tenant_id) DO UPDATE SET next_offline_at = EXCLUDED.next_offline_at;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION control_api.policy_override_mark(policy_key text, overridden boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    IF overridden THEN
        INSERT INTO control.policy_overrides (tenant_id, policy_key) VALUES (tid, policy_key) ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM control.policy_overrides o WHERE o.tenant_id = tid AND o.policy_key = policy_override_mark.policy_key;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION control_api.sla_rollup_set(p_month date, p_alerts integer, p_response_decided integer, p_response_met integer,
    p_resolution_decided integer, p_resolution_met integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    INSERT INTO control.sla_rollups AS r (tenant_id, month, alerts, response_decided, response_met, resolution_decided, resolution_met)
    VALUES (tid, date_trunc('month', p_month)::date, p_alerts, p_response_decided, p_response_met, p_resolution_decided, p_resolution_met)
    ON CONFLICT (tenant_id, month) DO UPDATE SET alerts = EXCLUDED.alerts,
        response_decided = EXCLUDED.response_decided, response_met = EXCLUDED.response_met,
        resolution_decided = EXCLUDED.resolution_decided, resolution_met = EXCLUDED.resolution_met, updated_at = now();
END
$$;

-- Marks the calling tenant due for an outbox drain. Each mark bumps the
-- generation; a drain clears the row only at the generation it started
-- from, so an event committed while it worked keeps the tenant due.
CREATE OR REPLACE FUNCTION control_api.outbox_mark_due() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
    fresh boolean;
BEGIN
    -- DO UPDATE (not DO NOTHING) takes the row lock, so a drain clearing the
    -- mark waits for this transaction and then sees the new generation.
    INSERT INTO control.outbox_due AS d (tenant_id) VALUES (tid)
    ON CONFLICT (tenant_id) DO UPDATE SET generation = d.generation + 1
    RETURNING (xmax = 0) INTO fresh;
    -- Only a new mark is announced (at commit, to every replica listening
    -- on this server): for a bumped one a drain is waiting or running.
    IF fresh THEN
        PERFORM pg_notify('switchboard_outbox', tid::text);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION control_api.caller_tenant(), control_api.rollup_add(text, integer), control_api.rollup_set(text, integer),
    control_api.set_next_offline(timestamptz, interval), control_api.policy_override_mark(text, boolean),
    control_api.sla_rollup_set(date, integer, integer, integer, integer, integer), control_api.outbox_mark_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION control_api.caller_tenant(), control_api.rollup_add(text, integer), control_api.rollup_set(text, integer),
    control_api.set_next_offline(timestamptz, interval), control_api.policy_override_mark(text, boolean),
    control_api.sla_rollup_set(date, integer, integer, integer, integer, integer), control_api.outbox_mark_due() TO PUBLIC;
