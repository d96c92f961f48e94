-- Portal single sign-on: the client's own OpenID Connect provider (their
-- Entra ID, Google Workspace, …). One row, or none: password sign-in only.
-- The client secret is AES-256-GCM ciphertext when the platform has
-- sso.secret_key ("v1:" prefix), else stored as given ("plain:" prefix).
CREATE TABLE sso_settings (
    -- Always true: the table holds at most one row.
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    issuer        text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 500),
    client_id     text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 500),
    client_secret text NOT NULL CHECK (client_secret ~ '^(v1|plain):'),
    label         text NOT NULL DEFAULT '' CHECK (length(label) <= 60),
    -- Create a client_user at the first sign-in of a verified e-mail the
    -- client has no user for (just-in-time); off: existing users only.
    create_users  boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A user who signed in with the provider is bound to that provider's
-- subject: another account there with the same e-mail address is refused.
ALTER TABLE users
    ADD COLUMN sso_issuer  text,
    ADD COLUMN sso_subject text,
    ADD CONSTRAINT users_sso_link CHECK ((sso_issuer IS NULL) = (sso_subject IS NULL));
CREATE UNIQUE INDEX users_sso_subject_idx ON users (sso_issuer, sso_subject) WHERE sso_subject IS NOT NULL;
