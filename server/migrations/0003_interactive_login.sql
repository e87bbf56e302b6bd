-- The interactive login (protocol section 6): registered redirect URIs,
-- browser sessions and remembered consent.

-- Redirect URIs an application registered. A loopback URI
-- (`http://localhost/...`, `http://127.0.0.1/...`) is stored without a port
-- and matches any port (RFC 8252 section 7.3); any other must match exactly.
CREATE TABLE oauth_redirect_uris (
    client_id  TEXT NOT NULL,
    uri        TEXT NOT NULL,
    PRIMARY KEY (client_id, uri)
);

-- The wizard applications of protocol section 3 (their rows in
-- oauth_applications come from the embedded seed at every start).
INSERT INTO oauth_redirect_uris (client_id, uri) VALUES
    ('posthog-wizard', 'http://localhost/callback'),
    ('posthog-wizard', 'http://127.0.0.1/callback'),
    ('DC5uRLVbGI02YQ82grxgnK6Qn12SXWpCqdPb60oZ', 'http://localhost/callback'),
    ('DC5uRLVbGI02YQ82grxgnK6Qn12SXWpCqdPb60oZ', 'http://127.0.0.1/callback'),
    ('c4Rdw8DIxgtQfA80IiSnGKlNX8QN00cFWF00QQhM', 'http://localhost/callback'),
    ('c4Rdw8DIxgtQfA80IiSnGKlNX8QN00cFWF00QQhM', 'http://127.0.0.1/callback'),
    ('bx2C5sZRN03TkdjraCcetvQFPGH6N2Y9vRLkcKEy', 'http://localhost/callback'),
    ('bx2C5sZRN03TkdjraCcetvQFPGH6N2Y9vRLkcKEy', 'http://127.0.0.1/callback');

-- A browser session. It exists from the first sign-in form on (user_id
-- NULL), so that form's CSRF token is tied to it; signing in replaces it
-- with a new session for the user. The cookie holds the id; only its
-- SHA-256 is stored.
CREATE TABLE login_sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- What a user allowed an application, and for which team.
CREATE TABLE oauth_consents (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    scopes      TEXT NOT NULL,              -- space separated
    team_id     INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
