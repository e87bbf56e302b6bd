-- Deep links (protocol section 4): single-use sign-in links into the app.
-- The token is a bearer secret, so only its SHA-256 hex is stored. Times
-- are unix seconds on the server's (injectable) clock.

CREATE TABLE deep_links (
    token_hash  TEXT PRIMARY KEY,
    client_id   TEXT,                       -- the partner that asked for it
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    team_id     INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    path        TEXT NOT NULL,              -- where /agentic/login redirects
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

-- Rotation and removal revoke the personal API keys of one team.
CREATE INDEX personal_api_keys_team ON personal_api_keys(team_id, user_id);
