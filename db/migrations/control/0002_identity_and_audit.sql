-- Staff users, their grants over tenants, their sessions, login throttling
-- and the platform audit log.

CREATE TABLE control.staff_users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) <= 254),
    name          text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'technician')),
    -- all: every tenant, present and future; list: only staff_user_tenants;
    -- all_except: every tenant but those in staff_user_tenants.
    tenant_scope  text NOT NULL DEFAULT 'all' CHECK (tenant_scope IN ('all', 'list', 'all_except')),
    disabled_at   timestamptz,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE control.staff_user_tenants (
    user_id   bigint NOT NULL REFERENCES control.staff_users (id) ON DELETE CASCADE,
    tenant_id bigint NOT NULL REFERENCES control.tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, tenant_id)
);

-- Server-side sessions (scs). token_hash is the SHA-256 of the cookie value;
-- subject names the user so that all of a user's sessions can be revoked.
CREATE TABLE control.sessions (
    token_hash text PRIMARY KEY,
    subject    text NOT NULL DEFAULT '',
    data       bytea NOT NULL,
    expiry     timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_subject_idx ON control.sessions (subject);
CREATE INDEX sessions_expiry_idx ON control.sessions (expiry);

-- Failed logins per key ("account:<email>" or "ip:<address>"), shared by every replica.
CREATE TABLE control.login_throttle (
    key           text PRIMARY KEY,
    failures      integer NOT NULL,
    window_start  timestamptz NOT NULL,
    blocked_until timestamptz
);

CREATE TABLE control.audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL DEFAULT '',
    summary   text NOT NULL DEFAULT '',
    client_ip text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON control.audit_log (at DESC);

-- The audit log is append-only for the application.
CREATE FUNCTION control.refuse_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log entries cannot be changed or deleted' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON control.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION control.refuse_audit_change();

-- Grants change who may see what; every replica reloads its authorizer.
CREATE TRIGGER staff_users_changed AFTER INSERT OR UPDATE OF role, tenant_scope, disabled_at OR DELETE ON control.staff_users
    FOR EACH STATEMENT EXECUTE FUNCTION control.notify_tenancy_change();
CREATE TRIGGER staff_user_tenants_changed AFTER INSERT OR UPDATE OR DELETE ON control.staff_user_tenants
    FOR EACH STATEMENT EXECUTE FUNCTION control.notify_tenancy_change();
