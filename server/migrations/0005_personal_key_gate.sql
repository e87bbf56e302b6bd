-- The per-application gate on personal API keys minted with a resource
-- (the real server's `provisioning_issues_personal_api_key`): off unless an
-- application says otherwise. Eras whose rule mints for every application
-- ignore it.
ALTER TABLE oauth_applications ADD COLUMN issues_personal_api_key INTEGER NOT NULL DEFAULT 0;
