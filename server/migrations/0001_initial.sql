-- The provisioning server's whole state. Secrets (pha_, phr_, phx_,
-- authorization codes, resource-server secrets) are stored as SHA-256 hex,
-- never in plain; project keys (phc_) are public and stored as they are.
-- Times are unix seconds on the server's (injectable) clock.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,          -- UUID
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid           TEXT NOT NULL UNIQUE,
    email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    first_name     TEXT NOT NULL,
    password_hash  TEXT,
    created_at     INTEGER NOT NULL
);

CREATE TABLE memberships (
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    joined_at        INTEGER NOT NULL,
    PRIMARY KEY (user_id, organization_id)
);

CREATE TABLE teams (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    api_token        TEXT NOT NULL UNIQUE,  -- phc_, public by design
    is_demo          INTEGER NOT NULL DEFAULT 0,
    region           TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    removed_at       INTEGER
);

-- OAuth applications: partners (hmac orchestrators and pkce public
-- clients) and resource servers (the gateway, for introspection).
CREATE TABLE oauth_applications (
    client_id                   TEXT PRIMARY KEY,
    label                       TEXT NOT NULL,
    kind                        TEXT NOT NULL CHECK (kind IN ('partner', 'resource_server')),
    auth_method                 TEXT NOT NULL CHECK (auth_method IN ('hmac', 'pkce', 'basic')),
    -- hmac: the signing secrets themselves (up to two, JSON array), which
    -- the server needs to compute signatures; basic: SHA-256 of the secret.
    secrets                     TEXT NOT NULL DEFAULT '[]',
    active                      INTEGER NOT NULL DEFAULT 1,
    can_create_accounts         INTEGER NOT NULL DEFAULT 0,
    can_provision_resources     INTEGER NOT NULL DEFAULT 0,
    can_issue_deep_links        INTEGER NOT NULL DEFAULT 0,
    skip_existing_user_consent  INTEGER NOT NULL DEFAULT 0,
    scope_ceiling               TEXT NOT NULL DEFAULT '',   -- space separated
    rate_limits                 TEXT NOT NULL DEFAULT '{}'  -- JSON, per hour
);

CREATE TABLE authorization_codes (
    code_hash       TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES oauth_applications(client_id),
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    team_id         INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    scopes          TEXT NOT NULL,          -- space separated, may be empty
    code_challenge  TEXT,                   -- NULL: an hmac partner's code
    redirect_uri    TEXT,
    region          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    consumed_at     INTEGER
);

CREATE TABLE access_tokens (
    token_hash  TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    team_id     INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,
    code_hash   TEXT,                       -- the code it came from, for reuse revocation
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE refresh_tokens (
    token_hash         TEXT PRIMARY KEY,
    access_token_hash  TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    user_id            INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    team_id            INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    scopes             TEXT NOT NULL,
    code_hash          TEXT,
    created_at         INTEGER NOT NULL,
    revoked_at         INTEGER
);

CREATE TABLE personal_api_keys (
    key_hash    TEXT PRIMARY KEY,
    masked      TEXT NOT NULL,              -- phx_***, for journals
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    team_id     INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    client_id   TEXT,                       -- the partner that minted it
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);

CREATE INDEX access_tokens_code ON access_tokens(code_hash);
CREATE INDEX refresh_tokens_code ON refresh_tokens(code_hash);
CREATE INDEX teams_organization ON teams(organization_id);
CREATE INDEX memberships_organization ON memberships(organization_id);
