-- The Stripe namespace's project ids: one dedicated team per (partner,
-- project_id), created on the first resource request that names it (the
-- real server's TeamProvisioningConfig.stripe_project_id).
CREATE TABLE project_teams (
    client_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    team_id     INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, project_id)
);
