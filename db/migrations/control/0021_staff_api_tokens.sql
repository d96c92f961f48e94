-- Personal API tokens of staff users (issue 14): a subset of the owner's
-- permissions (scopes) and optionally of their clients, with an expiry.
-- Only the SHA-256 of the secret is stored; the secret is shown once.
CREATE TABLE control.staff_api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES control.staff_users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    scopes       jsonb NOT NULL CHECK (jsonb_typeof(scopes) = 'array' AND jsonb_array_length(scopes) >= 1),
    -- NULL: every client the user can see (now and later); else these ids only.
    client_ids   jsonb CHECK (client_ids IS NULL OR jsonb_typeof(client_ids) = 'array'),
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_api_tokens_user ON control.staff_api_tokens (user_id);

-- Idempotency-Key of creating POSTs of the staff API: the same key and body
-- from the same user replays the stored response for 24 hours.
CREATE TABLE control.api_idempotency (
    user_id      bigint NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    route        text NOT NULL,
    body_hash    bytea NOT NULL,
    status       integer NOT NULL,
    response     bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key, route)
);
CREATE INDEX api_idempotency_created ON control.api_idempotency (created_at);
