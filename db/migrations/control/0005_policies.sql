-- Global policy baselines, and an index of which tenants override which
-- global item (kept by tenant-plane writes, so counting needs no fan-out).

CREATE TABLE control.global_policies (
    key        text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.-]{0,62}$'),
    kind       text NOT NULL CHECK (kind IN ('threshold', 'routing', 'maintenance', 'agent')),
    body       jsonb NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    locked     boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE control.policy_overrides (
    tenant_id  bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    policy_key text NOT NULL,
    PRIMARY KEY (policy_key, tenant_id)
);

-- Called from a tenant's trigger: records or forgets that the calling tenant
-- overrides policy_key. The tenant comes from the caller's role.
CREATE FUNCTION control_api.policy_override_mark(policy_key text, overridden boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    IF overridden THEN
        INSERT INTO control.policy_overrides (tenant_id, policy_key)
        SELECT tid, policy_key WHERE EXISTS (SELECT 1 FROM control.tenants WHERE id = tid)
        ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM control.policy_overrides o WHERE o.tenant_id = tid AND o.policy_key = policy_override_mark.policy_key;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION control_api.policy_override_mark(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION control_api.policy_override_mark(text, boolean) TO PUBLIC;

CREATE TRIGGER global_policies_changed AFTER INSERT OR UPDATE OR DELETE ON control.global_policies
    FOR EACH STATEMENT EXECUTE FUNCTION control.notify_tenancy_change();

-- The defaults every MSP starts from; edit them in the console.
INSERT INTO control.global_policies (key, kind, body) VALUES
    ('agent-checkin', 'agent', '{"check_in_interval": 60000000000, "offline_after_missed": 3}'),
    ('cpu-high', 'threshold', '{"metric": "cpu_percent", "operator": ">", "value": 90, "for": 300000000000, "severity": "warning", "auto_resolve": true}'),
    ('memory-high', 'threshold', '{"metric": "memory_percent", "operator": ">", "value": 90, "for": 300000000000, "severity": "warning", "auto_resolve": true}'),
    ('disk-full', 'threshold', '{"metric": "disk_percent", "operator": ">=", "value": 95, "for": 0, "severity": "critical", "auto_resolve": true}'),
    -- A client that creates a notification channel named "oncall" gets every new warning or critical alert there.
    ('route-oncall', 'routing', '{"min_severity": "warning", "labels": {}, "channels": ["oncall"]}');
