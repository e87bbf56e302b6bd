-- Token buckets of partner rate limits (today's real server: a bucket per
-- partner and endpoint that refills continuously). `tokens` is what is left,
-- as of `updated_at` (unix seconds on the server's injectable clock).
CREATE TABLE rate_limit_buckets (
    client_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    tokens      REAL NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (client_id, kind)
);
