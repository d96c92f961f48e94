-- autocert's cache for serve --tls: the ACME account key, issued certificates
-- with their private keys, and in-flight challenge tokens, keyed by autocert's
-- own names. Shared by every replica, so a certificate is ordered once and a
-- challenge answered by whichever replica the CA reaches.
CREATE TABLE control.acme_cache (
    key        text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 512),
    data       bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Private keys live here: only the owning application role may read them,
-- never PUBLIC (which includes every tenant role).
REVOKE ALL ON control.acme_cache FROM PUBLIC;
