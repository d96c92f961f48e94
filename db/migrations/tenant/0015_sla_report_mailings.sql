-- Monthly SLA reports e-mailed to the client's admins: one row per report
-- month, written in the transaction that sends it, so that any number of
-- workers racing for the same client and month send it once (the second
-- waits on the primary key, then finds the row). A month that was not sent
-- (no SLA, no client admin, e-mail refused for good) has its row too, so it
-- is not tried again.
CREATE TABLE sla_report_mailings (
    month      date PRIMARY KEY CHECK (extract(day FROM month) = 1),
    outcome    text NOT NULL CHECK (outcome IN ('sent', 'no_sla', 'no_recipients', 'failed')),
    recipients text NOT NULL DEFAULT '' CHECK (length(recipients) <= 10000),
    detail     text NOT NULL DEFAULT '' CHECK (length(detail) <= 2000),
    at         timestamptz NOT NULL DEFAULT now()
);
