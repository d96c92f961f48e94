-- Per-client, per-month SLA outcomes for the cross-client compliance table,
-- written from inside the client's schema through control_api (the tenant
-- comes from the caller's role, so a client can only set its own rows).
CREATE TABLE control.sla_rollups (
    tenant_id          bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    month              date NOT NULL,
    alerts             integer NOT NULL DEFAULT 0,
    response_decided   integer NOT NULL DEFAULT 0,
    response_met       integer NOT NULL DEFAULT 0,
    resolution_decided integer NOT NULL DEFAULT 0,
    resolution_met     integer NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, month)
);

CREATE FUNCTION control_api.sla_rollup_set(p_month date, p_alerts integer, p_response_decided integer, p_response_met integer,
    p_resolution_decided integer, p_resolution_met integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
BEGIN
    INSERT INTO control.sla_rollups AS r (tenant_id, month, alerts, response_decided, response_met, resolution_decided, resolution_met)
    SELECT tid, date_trunc('month', p_month)::date, p_alerts, p_response_decided, p_response_met, p_resolution_decided, p_resolution_met
    WHERE EXISTS (SELECT 1 FROM control.tenants WHERE id = tid)
    ON CONFLICT (tenant_id, month) DO UPDATE SET alerts = EXCLUDED.alerts,
        response_decided = EXCLUDED.response_decided, response_met = EXCLUDED.response_met,
        resolution_decided = EXCLUDED.resolution_decided, resolution_met = EXCLUDED.resolution_met, updated_at = now();
END
$$;
REVOKE ALL ON FUNCTION control_api.sla_rollup_set(date, integer, integer, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION control_api.sla_rollup_set(date, integer, integer, integer, integer, integer) TO PUBLIC;
