-- Staff multi-factor sign-in. A staff user has at most one TOTP secret
-- (RFC 6238), any number of WebAuthn passkeys, and one-time recovery codes
-- once they have a factor. Everything goes with the user (ON DELETE CASCADE).

-- secret is the base32 TOTP secret as the authenticator app holds it, or,
-- with sso.secret_key configured, "v1:" and its AES-256-GCM encryption (see
-- the README, "Multi-factor sign-in"). last_step is the last 30-second time
-- step a code was accepted for: a code of that step or an earlier one is a
-- replay.
CREATE TABLE control.staff_totp (
    user_id    bigint PRIMARY KEY REFERENCES control.staff_users (id) ON DELETE CASCADE,
    secret     text NOT NULL CHECK (secret ~ '^[A-Z2-7]{32}$' OR secret LIKE 'v1:%'),
    last_step  bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- code_hash is the SHA-256 of an 80-bit random code: too much entropy to
-- guess offline, so a fast hash suffices and lookups need no per-row salt.
CREATE TABLE control.staff_recovery_codes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES control.staff_users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL CHECK (length(code_hash) = 32),
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, code_hash)
);

-- credential is go-webauthn's credential record (public key, sign count,
-- flags, AAGUID, transports) as JSON; credential_id is its id, for lookups.
CREATE TABLE control.staff_passkeys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES control.staff_users (id) ON DELETE CASCADE,
    credential_id bytea NOT NULL UNIQUE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    credential    jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX staff_passkeys_user_idx ON control.staff_passkeys (user_id);
