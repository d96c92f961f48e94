-- Keep control.tenant_rollups.active_users current with every user change.

CREATE FUNCTION users_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta integer := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.disabled_at IS NULL THEN
        delta := delta - 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.disabled_at IS NULL THEN
        delta := delta + 1;
    END IF;
    IF delta <> 0 THEN
        PERFORM control_api.rollup_add('active_users', delta);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_rollup AFTER INSERT OR UPDATE OF disabled_at OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_rollup();

SELECT control_api.rollup_set('active_users', (SELECT count(*)::integer FROM users WHERE disabled_at IS NULL));
