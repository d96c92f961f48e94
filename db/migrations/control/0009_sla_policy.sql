-- SLA targets and calendars become a policy kind, with a 24×7 baseline.
ALTER TABLE control.global_policies DROP CONSTRAINT global_policies_kind_check;
ALTER TABLE control.global_policies ADD CONSTRAINT global_policies_kind_check
    CHECK (kind IN ('threshold', 'routing', 'maintenance', 'agent', 'sla'));

INSERT INTO control.global_policies (key, kind, body) VALUES ('sla-default', 'sla', '{
    "targets": {
        "critical": {"acknowledge": 900000000000, "resolve": 14400000000000},
        "warning":  {"acknowledge": 3600000000000, "resolve": 28800000000000},
        "info":     {"acknowledge": 14400000000000, "resolve": 86400000000000}},
    "calendar": {"always_open": true},
    "clock_owner": "msp",
    "warn_at": 0.75}');
