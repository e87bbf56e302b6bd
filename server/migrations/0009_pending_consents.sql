-- Today's consent for an existing user (ee/api/agentic_provisioning/
-- accounts.py of the real server): a PKCE partner's account request for an
-- existing email is kept here, under a random state, until the person
-- approves it at /api/agentic/authorize or it expires (600 s). The state
-- travels in the requires_auth URL; only its SHA-256 is stored. One live
-- pending consent per (partner, email): a retry replaces the earlier one.
CREATE TABLE pending_consents (
    state_hash      TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    email           TEXT NOT NULL,
    scopes          TEXT NOT NULL,              -- space separated
    code_challenge  TEXT NOT NULL,              -- S256, of the account request
    region          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);

CREATE UNIQUE INDEX pending_consents_partner_email ON pending_consents (client_id, email);
