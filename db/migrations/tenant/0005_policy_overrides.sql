-- A tenant's changes to global policy items, its own items, and per-endpoint exclusions.

CREATE TABLE policy_overrides (
    key        text PRIMARY KEY,
    enabled    boolean,   -- NULL: as the global item
    body       jsonb,     -- NULL: as the global item
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE policy_items (
    key        text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.-]{0,62}$'),
    kind       text NOT NULL CHECK (kind IN ('threshold', 'routing', 'maintenance', 'agent')),
    body       jsonb NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE policy_exclusions (
    key      text NOT NULL,
    hostname text NOT NULL,
    PRIMARY KEY (key, hostname)
);

CREATE FUNCTION policy_overrides_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM control_api.policy_override_mark(OLD.key, false);
    ELSE
        PERFORM control_api.policy_override_mark(NEW.key, true);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER policy_overrides_mark AFTER INSERT OR DELETE ON policy_overrides
    FOR EACH ROW EXECUTE FUNCTION policy_overrides_mark();
