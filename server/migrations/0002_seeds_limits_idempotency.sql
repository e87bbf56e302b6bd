-- Seeded health issues, hourly rate-limit counters and the answers kept for
-- account-request idempotency. Times are unix seconds on the server's clock.

-- `GET /api/environments/{id}/health_issues/` (protocol section 5).
CREATE TABLE health_issues (
    id          TEXT PRIMARY KEY,
    team_id     INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    status      TEXT NOT NULL CHECK (status IN ('active', 'resolved')),
    dismissed   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE INDEX health_issues_team ON health_issues(team_id, created_at);

-- One row per partner, kind (`account_requests`, `token_exchanges`,
-- `resource_creates`) and hourly window (its start).
CREATE TABLE rate_limit_windows (
    client_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (client_id, kind, window_start)
);

-- Every answered account request (protocol section 4): the partner, the
-- request's `id`, the SHA-256 of its canonical body (sorted keys), the
-- answer sealed with a key derived from that body (it holds a code, and
-- codes are never stored in plain), and the region the client asked for
-- (`configuration.region`, recorded, never refused).
CREATE TABLE account_requests (
    client_id       TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    body_hash       TEXT NOT NULL,
    answer          TEXT NOT NULL,
    region          TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (client_id, request_id)
);
