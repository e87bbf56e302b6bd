//! The registered applications (`oauth_applications`): stored by the seeds,
//! parsed once when loaded ([`Application`]) and served from memory.
//!
//! Most requests need their partner, and applications change only through
//! [`Db::upsert_application`] (seeds), so they are read from the database
//! at start and again after each change: a deactivation is seen by the
//! next request, as before. (The server is the only writer of its database
//! file.)

use std::sync::{Arc, PoisonError};

use super::application::{Application, ApplicationRow};
use super::handle::Db;
use super::named::named;

impl Db {
    pub async fn upsert_application(&self, application: &Application) -> sqlx::Result<()> {
        let a = application;
        let statement = named!(
            "INSERT INTO oauth_applications (client_id, label, kind, auth_method, secrets, active,
                can_create_accounts, can_provision_resources, can_issue_deep_links,
                skip_existing_user_consent, scope_ceiling, rate_limits, issues_personal_api_key)
             VALUES (:client_id, :label, :kind, :auth_method, :secrets, :active,
                :can_create_accounts, :can_provision_resources, :can_issue_deep_links,
                :skip_existing_user_consent, :scope_ceiling, :rate_limits,
                :issues_personal_api_key)
             ON CONFLICT (client_id) DO UPDATE SET label = excluded.label, kind = excluded.kind,
                auth_method = excluded.auth_method, secrets = excluded.secrets,
                active = excluded.active, can_create_accounts = excluded.can_create_accounts,
                can_provision_resources = excluded.can_provision_resources,
                can_issue_deep_links = excluded.can_issue_deep_links,
                skip_existing_user_consent = excluded.skip_existing_user_consent,
                scope_ceiling = excluded.scope_ceiling, rate_limits = excluded.rate_limits,
                issues_personal_api_key = excluded.issues_personal_api_key",
            client_id = a.client_id.clone(),
            label = a.label.clone(),
            kind = a.kind.clone(),
            auth_method = a.auth_method.as_str(),
            secrets = a.secrets_json(),
            active = a.active,
            can_create_accounts = a.can_create_accounts,
            can_provision_resources = a.can_provision_resources,
            can_issue_deep_links = a.can_issue_deep_links,
            skip_existing_user_consent = a.skip_existing_user_consent,
            scope_ceiling = a.scope_ceiling.clone(),
            rate_limits = a.rate_limits_json(),
            issues_personal_api_key = a.issues_personal_api_key,
        );
        self.execute_named(statement).await?;
        self.reload_applications().await
    }

    /// The application `client_id` (from memory: see [`Db::applications`]).
    pub async fn application(&self, client_id: &str) -> sqlx::Result<Option<Application>> {
        Ok(self
            .shared_application(client_id)
            .map(|application| application.as_ref().clone()))
    }

    /// [`Db::application`] without a copy, for the checks made on every
    /// request of a path (introspection's caller, rate limits).
    pub fn shared_application(&self, client_id: &str) -> Option<Arc<Application>> {
        self.registered()
            .iter()
            .find(|application| application.client_id == client_id)
            .cloned()
    }

    /// Every application, in registration order, from memory (see the
    /// module's comment).
    pub async fn applications(&self) -> sqlx::Result<Vec<Application>> {
        Ok(self
            .registered()
            .iter()
            .map(|application| application.as_ref().clone())
            .collect())
    }

    fn registered(&self) -> Arc<Vec<Arc<Application>>> {
        let registered = self
            .applications
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&registered)
    }

    /// Reads and parses every application (at start, and after each
    /// change); a row that does not parse fails the load, naming it.
    pub(super) async fn reload_applications(&self) -> sqlx::Result<()> {
        let rows: Vec<ApplicationRow> =
            sqlx::query_as("SELECT * FROM oauth_applications ORDER BY rowid")
                .fetch_all(&mut *self.reader.get().await?)
                .await?;
        let applications = rows
            .into_iter()
            .map(|row| Application::from_row(row).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|corrupt| sqlx::Error::Decode(Box::new(corrupt)))?;
        *self
            .applications
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(applications);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{ConnectOptions as _, Connection as _};

    use super::*;
    use crate::db::application::AuthMethod;

    fn partner(active: bool) -> Application {
        Application {
            active,
            ..Application::for_test("partner_test", "user:read")
        }
    }

    #[tokio::test]
    async fn an_application_change_is_served_at_once() {
        let db = Db::connect("sqlite::memory:").await.expect("opens");
        assert_eq!(db.application("partner_test").await.expect("reads"), None);
        db.upsert_application(&partner(true)).await.expect("stores");
        assert_eq!(
            db.application("partner_test").await.expect("reads"),
            Some(partner(true))
        );
        db.upsert_application(&partner(false))
            .await
            .expect("stores");
        let stored = db.application("partner_test").await.expect("reads");
        assert_eq!(stored.map(|partner| partner.active), Some(false));
        let listed = db.applications().await.expect("lists");
        assert_eq!(
            listed
                .iter()
                .filter(|a| a.client_id == "partner_test")
                .count(),
            1
        );
    }

    fn file_url(directory: &tempfile::TempDir) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            directory.path().join("db.sqlite").display()
        )
    }

    #[tokio::test]
    async fn applications_are_read_at_start() {
        let directory = tempfile::tempdir().expect("tempdir");
        let url = file_url(&directory);
        let db = Db::connect(&url).await.expect("opens");
        let hmac = Application {
            client_id: "hmac_test".into(),
            auth_method: AuthMethod::Hmac,
            secrets: vec!["one".into(), "two".into()],
            rate_limits: crate::db::RateLimits {
                account_requests: Some(3),
                ..Default::default()
            },
            ..partner(true)
        };
        db.upsert_application(&partner(false))
            .await
            .expect("stores");
        db.upsert_application(&hmac).await.expect("stores");
        drop(db);
        let reopened = Db::connect(&url).await.expect("opens again");
        assert_eq!(
            reopened.application("partner_test").await.expect("reads"),
            Some(partner(false))
        );
        assert_eq!(
            reopened.application("hmac_test").await.expect("reads"),
            Some(hmac)
        );
    }

    /// A corrupt `secrets` or `rate_limits` column once read as "no
    /// secrets" or "unlimited" on every request; now the server refuses to
    /// start, naming the application and the column.
    #[tokio::test]
    async fn a_corrupt_application_row_stops_the_start() {
        for (column, value) in [
            ("secrets", "not json"),
            ("rate_limits", "{\"account_requests\":"),
            ("rate_limits", "{\"logins\":5}"),
        ] {
            let directory = tempfile::tempdir().expect("tempdir");
            let url = file_url(&directory);
            let db = Db::connect(&url).await.expect("opens");
            db.upsert_application(&partner(true)).await.expect("stores");
            drop(db);
            let mut raw = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .expect("url")
                .connect()
                .await
                .expect("opens raw");
            sqlx::query(&format!(
                "UPDATE oauth_applications SET {column} = ? WHERE client_id = 'partner_test'"
            ))
            .bind(value)
            .execute(&mut raw)
            .await
            .expect("corrupts");
            raw.close().await.expect("closes");
            let error = Db::connect(&url).await.expect_err(column).to_string();
            for needle in ["cannot read database", "\"partner_test\"", column] {
                assert!(error.contains(needle), "{column}: {needle}: {error}");
            }
        }
    }
}
