-- Tenants whose outbox holds events. A tenant's transaction marks itself due
-- through control_api.outbox_mark_due (the tenant comes from the caller's
-- role, so a tenant can only mark itself). Each mark bumps the generation;
-- a drain clears the row only at the generation it started from, so an
-- event committed while it worked keeps the tenant due.
CREATE TABLE control.outbox_due (
    tenant_id  bigint PRIMARY KEY REFERENCES control.tenants (id) ON DELETE CASCADE,
    generation bigint NOT NULL DEFAULT 1,
    due_since  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION control_api.outbox_mark_due() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = control, pg_temp AS $$
DECLARE
    tid bigint := control_api.caller_tenant();
    fresh boolean;
BEGIN
    -- DO UPDATE (not DO NOTHING) takes the row lock, so a drain clearing the
    -- mark waits for this transaction and then sees the new generation.
    INSERT INTO control.outbox_due AS d (tenant_id)
    SELECT tid WHERE EXISTS (SELECT 1 FROM control.tenants WHERE id = tid)
    ON CONFLICT (tenant_id) DO UPDATE SET generation = d.generation + 1
    RETURNING (xmax = 0) INTO fresh;
    -- A new mark is announced at commit to every listening replica. A bumped
    -- one needs no word: a drain is already waiting or running, and a
    -- running one goes round when its generation moved. (NOTIFY serialises
    -- committing transactions, so it is sent once per drain, not per write.)
    IF fresh THEN
        PERFORM pg_notify('switchboard_outbox', tid::text);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION control_api.outbox_mark_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION control_api.outbox_mark_due() TO PUBLIC;

-- The control plane's own outbox: events of platform-wide writes (a baseline
-- policy changed) recorded in the same transaction, drained like a tenant's
-- (tenant id 0 in the drain job). An insert signals the same channel.
CREATE TABLE control.outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION control.outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('switchboard_outbox', '0');
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON control.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION control.outbox_notify();
