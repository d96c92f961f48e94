-- Tenants, their hostnames and their API keys: the control plane's core.

CREATE TABLE control.tenants (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleting')),
    schema_name     text NOT NULL UNIQUE CHECK (schema_name ~ '^tenant_[1-9][0-9]*$'),
    role_name       text NOT NULL UNIQUE CHECK (role_name ~ '^tenant_[1-9][0-9]*$'),
    db_cluster      text NOT NULL DEFAULT 'default',
    schema_version  integer NOT NULL DEFAULT 0,
    migration_error text,
    migrated_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Fleet migrations ask "who is behind?"; this keeps that one index scan.
CREATE INDEX tenants_schema_version_idx ON control.tenants (schema_version);

CREATE TABLE control.tenant_domains (
    hostname   text PRIMARY KEY CHECK (hostname = lower(hostname) AND length(hostname) <= 253),
    tenant_id  bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    is_primary boolean NOT NULL DEFAULT false,
    verified   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_domains_tenant_idx ON control.tenant_domains (tenant_id);
CREATE UNIQUE INDEX tenant_domains_one_primary ON control.tenant_domains (tenant_id) WHERE is_primary;

CREATE TABLE control.api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_tenant_idx ON control.api_keys (tenant_id);

-- Every replica caches tenant resolution; a change anywhere tells all of them.
CREATE FUNCTION control.notify_tenancy_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('switchboard_tenancy', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE ON control.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION control.notify_tenancy_change();
CREATE TRIGGER tenant_domains_changed AFTER INSERT OR UPDATE OR DELETE ON control.tenant_domains
    FOR EACH STATEMENT EXECUTE FUNCTION control.notify_tenancy_change();
-- last_used_at changes on every request; only revocation and deletion matter to caches.
CREATE TRIGGER api_keys_changed AFTER UPDATE OF revoked_at, key_hash, tenant_id OR DELETE ON control.api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION control.notify_tenancy_change();
