-- Custom domains are proven by a DNS TXT record at _switchboard-challenge.<host>
-- holding the domain's token. Rows from before keep routing: they were added
-- by operators and stay verified (verified_at = when they were added).
ALTER TABLE control.tenant_domains
    ADD COLUMN verify_token text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '')
        CHECK (verify_token ~ '^[a-z0-9]{16,64}$'),
    ADD COLUMN verified_at  timestamptz,
    ADD COLUMN checked_at   timestamptz,
    ADD COLUMN check_error  text CHECK (length(check_error) <= 1000);

UPDATE control.tenant_domains SET verified_at = created_at WHERE verified;

-- Recording a check (checked_at, check_error) must not flush every replica's
-- cache: only changes that alter routing notify.
DROP TRIGGER tenant_domains_changed ON control.tenant_domains;
CREATE TRIGGER tenant_domains_changed AFTER INSERT OR UPDATE OF hostname, tenant_id, verified OR DELETE ON control.tenant_domains
    FOR EACH STATEMENT EXECUTE FUNCTION control.notify_tenancy_change();
