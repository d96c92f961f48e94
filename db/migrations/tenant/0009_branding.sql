-- Branding: how the client's portal looks. One row (or none: the portal then
-- wears neutral defaults built from the tenant's own name). Images live beside
-- it, content-addressed: the sha256 of the bytes is the key and is in the URL,
-- so an asset never changes under its URL and can be cached for a year.

CREATE TABLE brand_assets (
    sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- The type found by sniffing the bytes, never the uploader's claim.
    content_type text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/svg+xml', 'image/x-icon')),
    bytes        bytea NOT NULL,
    size         integer NOT NULL CHECK (size > 0 AND size = octet_length(bytes)),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE branding (
    -- Always true: the table holds at most one row.
    id             boolean PRIMARY KEY DEFAULT true CHECK (id),
    display_name   text NOT NULL DEFAULT '' CHECK (length(display_name) <= 100),
    primary_color  text NOT NULL DEFAULT '' CHECK (primary_color = '' OR primary_color ~ '^#[0-9a-f]{6}$'),
    accent_color   text NOT NULL DEFAULT '' CHECK (accent_color = '' OR accent_color ~ '^#[0-9a-f]{6}$'),
    logo_sha256    text REFERENCES brand_assets (sha256),
    favicon_sha256 text REFERENCES brand_assets (sha256),
    support_email  text NOT NULL DEFAULT '' CHECK (length(support_email) <= 254),
    support_phone  text NOT NULL DEFAULT '' CHECK (length(support_phone) <= 40),
    sender_name    text NOT NULL DEFAULT '' CHECK (length(sender_name) <= 100),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
