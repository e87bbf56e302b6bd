-- The service a team was provisioned for (the real server's
-- TeamProvisioningConfig.service_id): `analytics` until a partner moves it
-- with update_service.
ALTER TABLE teams ADD COLUMN service_id TEXT NOT NULL DEFAULT 'analytics';
