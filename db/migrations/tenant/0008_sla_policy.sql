-- A client may define its own items of the SLA kind too.
ALTER TABLE policy_items DROP CONSTRAINT policy_items_kind_check;
ALTER TABLE policy_items ADD CONSTRAINT policy_items_kind_check
    CHECK (kind IN ('threshold', 'routing', 'maintenance', 'agent', 'sla'));
