-- Cells: groups of tenants, each entered through its own login role and
-- pool on one PostgreSQL server (the control plane's own, or another one
-- whose URL is configured as database.cells.<name>.url, never stored here).
-- server is 'control' or the other server's host:port/database.

CREATE TABLE control.cells (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{0,38}[a-z0-9]$'),
    server     text NOT NULL CHECK (length(server) BETWEEN 1 AND 300),
    capacity   integer NOT NULL CHECK (capacity BETWEEN 1 AND 1000000),
    status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'draining', 'closed')),
    login_role text NOT NULL UNIQUE CHECK (login_role ~ '^sb_cell_[a-z][a-z0-9_]{0,39}$'),
    dedicated  boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every installation starts with one cell on its own server; its login role
-- is created (and every existing tenant handed to it) by `switchboard migrate`.
INSERT INTO control.cells (name, server, capacity, login_role) VALUES ('main', 'control', 10000, 'sb_cell_main');

ALTER TABLE control.tenants RENAME COLUMN db_cluster TO cell;
UPDATE control.tenants SET cell = 'main';
ALTER TABLE control.tenants ALTER COLUMN cell DROP DEFAULT,
    ADD CONSTRAINT tenants_cell_fkey FOREIGN KEY (cell) REFERENCES control.cells (name);
CREATE INDEX tenants_cell_idx ON control.tenants (cell);

-- provisioning: the schema is being built on another server; moving: being
-- copied to another server (reads served, writes refused).
ALTER TABLE control.tenants DROP CONSTRAINT tenants_status_check,
    ADD CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended', 'deleting', 'provisioning', 'moving'));

-- A move between servers, one row per tenant on the way, its last finished
-- step recorded so that a killed move resumes (or is undone) from there.
CREATE TABLE control.tenant_moves (
    tenant_id   bigint PRIMARY KEY REFERENCES control.tenants (id) ON DELETE CASCADE,
    from_cell   text NOT NULL REFERENCES control.cells (name),
    to_cell     text NOT NULL REFERENCES control.cells (name),
    step        text NOT NULL,
    prior_status text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    error       text
);

CREATE TRIGGER cells_changed AFTER INSERT OR UPDATE OR DELETE ON control.cells
    FOR EACH STATEMENT EXECUTE FUNCTION control.notify_tenancy_change();
