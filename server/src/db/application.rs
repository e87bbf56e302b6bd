//! What a registered OAuth application is, in typed values: its row of
//! `oauth_applications` is parsed once, when the applications are loaded
//! ([`Application::from_row`]), so no request re-reads its JSON columns and
//! a corrupt row is an error at start, never a silent "no secrets" or
//! "unlimited".

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

/// How an application proves who it is (`oauth_applications.auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A public partner: PKCE on the code exchange, no secret.
    Pkce,
    /// A confidential partner: requests signed with one of its
    /// `Stripe-Signature` secrets.
    Hmac,
    /// A resource server: HTTP Basic with its client secret (introspection).
    Basic,
}

/// A partner's limits per hour; an absent kind, or 0, is unlimited (as are the
/// embedded default partners). Stored as JSON in
/// `oauth_applications.rate_limits`; read by `rate_limit.rs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_requests: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_exchanges: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_creates: Option<i64>,
    /// Refresh grants: a bucket of their own in today's era; counted with
    /// `token_exchanges` where limits are hourly windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_refreshes: Option<i64>,
}

/// An OAuth application: a partner or a resource server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub client_id: String,
    pub label: String,
    /// `partner` or `resource_server`.
    pub kind: String,
    pub auth_method: AuthMethod,
    /// Signing secrets (hmac) or secret hashes (basic); none for pkce.
    pub secrets: Vec<String>,
    pub active: bool,
    pub can_create_accounts: bool,
    pub can_provision_resources: bool,
    pub can_issue_deep_links: bool,
    /// The application's personal-key gate (read by eras whose keys are
    /// gated per application).
    pub issues_personal_api_key: bool,
    pub skip_existing_user_consent: bool,
    /// Space separated, as stored.
    pub scope_ceiling: String,
    pub rate_limits: RateLimits,
}

/// A row of `oauth_applications` as stored: the JSON columns still text.
#[derive(Debug, Clone, FromRow)]
pub(super) struct ApplicationRow {
    client_id: String,
    label: String,
    kind: String,
    auth_method: String,
    secrets: String,
    active: bool,
    can_create_accounts: bool,
    can_provision_resources: bool,
    can_issue_deep_links: bool,
    issues_personal_api_key: bool,
    skip_existing_user_consent: bool,
    scope_ceiling: String,
    rate_limits: String,
}

/// A stored application that cannot be read: which, which column, and why.
#[derive(Debug, thiserror::Error)]
#[error(
    "the stored application {client_id:?} is corrupt: its {column} {value:?} {problem} \
     (fix or delete its row of oauth_applications)"
)]
pub struct CorruptApplication {
    pub client_id: String,
    pub column: &'static str,
    pub value: String,
    pub problem: String,
}

impl AuthMethod {
    /// The stored (and seeded) name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Pkce => "pkce",
            AuthMethod::Hmac => "hmac",
            AuthMethod::Basic => "basic",
        }
    }

    /// The method with this stored name.
    pub fn parse(name: &str) -> Option<AuthMethod> {
        [AuthMethod::Pkce, AuthMethod::Hmac, AuthMethod::Basic]
            .into_iter()
            .find(|method| method.as_str() == name)
    }
}

impl Application {
    /// A public partner for unit tests: every provisioning right, no
    /// limits, this scope ceiling.
    #[cfg(test)]
    pub fn for_test(client_id: &str, scope_ceiling: &str) -> Application {
        Application {
            client_id: client_id.into(),
            label: client_id.into(),
            kind: "partner".into(),
            auth_method: AuthMethod::Pkce,
            secrets: Vec::new(),
            active: true,
            can_create_accounts: true,
            can_provision_resources: true,
            can_issue_deep_links: false,
            issues_personal_api_key: false,
            skip_existing_user_consent: false,
            scope_ceiling: scope_ceiling.into(),
            rate_limits: RateLimits::default(),
        }
    }

    pub fn ceiling(&self) -> Vec<String> {
        protocol::scope::split(&self.scope_ceiling)
    }

    /// Stored secrets: signing secrets (hmac) or secret hashes (basic).
    pub fn secret_list(&self) -> &[String] {
        &self.secrets
    }

    /// Parses a stored row; a column that does not parse names the
    /// application, the column and the stored value.
    pub(super) fn from_row(row: ApplicationRow) -> Result<Application, CorruptApplication> {
        let corrupt = |column, value: &str, problem: String| CorruptApplication {
            client_id: row.client_id.clone(),
            column,
            value: value.to_owned(),
            problem,
        };
        let auth_method = AuthMethod::parse(&row.auth_method).ok_or_else(|| {
            corrupt(
                "auth_method",
                &row.auth_method,
                "is none of pkce, hmac, basic".into(),
            )
        })?;
        let secrets = serde_json::from_str(&row.secrets).map_err(|error| {
            corrupt(
                "secrets",
                &row.secrets,
                format!("is not a JSON list of strings: {error}"),
            )
        })?;
        let rate_limits = serde_json::from_str(&row.rate_limits).map_err(|error| {
            corrupt(
                "rate_limits",
                &row.rate_limits,
                format!("is not a JSON object of hourly limits: {error}"),
            )
        })?;
        Ok(Application {
            client_id: row.client_id,
            label: row.label,
            kind: row.kind,
            auth_method,
            secrets,
            active: row.active,
            can_create_accounts: row.can_create_accounts,
            can_provision_resources: row.can_provision_resources,
            can_issue_deep_links: row.can_issue_deep_links,
            issues_personal_api_key: row.issues_personal_api_key,
            skip_existing_user_consent: row.skip_existing_user_consent,
            scope_ceiling: row.scope_ceiling,
            rate_limits,
        })
    }

    /// The JSON of the `secrets` column.
    pub(super) fn secrets_json(&self) -> String {
        serde_json::Value::from(self.secrets.clone()).to_string()
    }

    /// The JSON of the `rate_limits` column (`{}` without limits).
    pub(super) fn rate_limits_json(&self) -> String {
        serde_json::to_value(self.rate_limits)
            .unwrap_or_default()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(auth_method: &str, secrets: &str, rate_limits: &str) -> ApplicationRow {
        ApplicationRow {
            client_id: "partner_test".into(),
            label: "Partner".into(),
            kind: "partner".into(),
            auth_method: auth_method.into(),
            secrets: secrets.into(),
            active: true,
            can_create_accounts: true,
            can_provision_resources: true,
            can_issue_deep_links: false,
            issues_personal_api_key: false,
            skip_existing_user_consent: false,
            scope_ceiling: "user:read".into(),
            rate_limits: rate_limits.into(),
        }
    }

    #[test]
    fn a_stored_row_parses_into_typed_values() {
        let application =
            Application::from_row(row("hmac", r#"["s1","s2"]"#, r#"{"account_requests":3}"#))
                .expect("parses");
        assert_eq!(application.auth_method, AuthMethod::Hmac);
        assert_eq!(application.secret_list(), ["s1", "s2"]);
        assert_eq!(application.rate_limits.account_requests, Some(3));
        assert_eq!(application.secrets_json(), r#"["s1","s2"]"#);
        assert_eq!(application.rate_limits_json(), r#"{"account_requests":3}"#);
        let unlimited = Application::for_test("p", "");
        assert_eq!(unlimited.rate_limits_json(), "{}");
        assert_eq!(unlimited.secrets_json(), "[]");
    }

    /// A corrupt row used to read as "no secrets" (every signature refused
    /// for no stated reason) or "unlimited" (a partner's limits silently
    /// gone); now it names the application, the column and the value.
    #[test]
    fn a_corrupt_row_is_an_error_naming_the_column() {
        fn check(row: ApplicationRow, column: &str, value: &str) {
            let error = Application::from_row(row).expect_err(column).to_string();
            for needle in ["\"partner_test\"", column, value] {
                assert!(error.contains(needle), "{needle}: {error}");
            }
        }
        check(row("PKCE", "[]", "{}"), "auth_method", "PKCE");
        check(row("hmac", "", "{}"), "secrets", "\"\"");
        check(row("hmac", "not json", "{}"), "secrets", "not json");
        check(row("hmac", r#"{"a":1}"#, "{}"), "secrets", "{");
        check(row("pkce", "[]", "not json"), "rate_limits", "not json");
        check(
            row("pkce", "[]", r#"{"logins":1}"#),
            "rate_limits",
            "logins",
        );
        check(
            row("pkce", "[]", r#"{"account_requests":"ten"}"#),
            "rate_limits",
            "ten",
        );
    }
}
