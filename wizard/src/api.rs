//! The PostHog API reads (protocol section 5): `users/@me`, `projects/{id}`
//! and health issues, with 401 and 403 explained from the API's `detail`
//! (seed 003: say the cause first, in one sentence with its fix).

use protocol::credential::Credential;
use protocol::posthog::{Me, Project};
use serde::de::DeserializeOwned;

use crate::client::Answer;
use crate::error::WizardError;
use crate::log::VerboseLog;
use crate::session::Session;

/// Why the API refused a credential with 401, read from its `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadKey {
    Unknown,
    Revoked,
    Expired,
}

impl DeadKey {
    /// Reads the cause from a 401 `detail` ("… has expired.", "… revoked.",
    /// "… unknown."), if it names one.
    pub fn from_detail(detail: &str) -> Option<DeadKey> {
        let detail = detail.to_lowercase();
        if detail.contains("expired") {
            Some(DeadKey::Expired)
        } else if detail.contains("revoked") {
            Some(DeadKey::Revoked)
        } else if detail.contains("unknown") {
            Some(DeadKey::Unknown)
        } else {
            None
        }
    }

    /// One plain sentence: the cause, then the fix. `pinned`: `--base-url`
    /// pins the server, so there is no other region to try.
    pub fn sentence(self, pinned: bool) -> &'static str {
        match self {
            DeadKey::Unknown if pinned => "Cause: this server does not know this key: it was mistyped or deleted, or it was issued by another PostHog server than the one --base-url names.",
            DeadKey::Expired => "Cause: this key has expired. Create a new personal API key (phx_) in PostHog and run again with it.",
            DeadKey::Revoked => "Cause: this key was revoked. Create a new personal API key (phx_) in PostHog and run again with it.",
            DeadKey::Unknown => "Cause: this server does not know this key: it was mistyped, or it belongs to the other region (try --region eu or --region us).",
        }
    }
}

/// The scope a 403 `detail` names ("API key missing required scope
/// 'health_issue:read'").
pub fn missing_scope(detail: &str) -> Option<String> {
    detail
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .find(|word| {
            word.split_once(':')
                .is_some_and(|(resource, action)| !resource.is_empty() && !action.is_empty())
        })
        .map(str::to_owned)
}

/// What a person reads for an API 401; `pinned` as in [`DeadKey::sentence`].
pub fn explain_401(path: &str, detail: &str, pinned: bool, log: &VerboseLog) -> String {
    let mut out = format!("Authentication failed (401) at {path}.\n");
    if let Some(cause) = DeadKey::from_detail(detail) {
        out.push_str(cause.sentence(pinned));
        out.push('\n');
    }
    out.push_str(&format!("The API said: {detail}\n"));
    out.push_str(&format!("Verbose log: {}", log.path().display()));
    out
}

/// What a person reads for an API 403.
pub fn explain_403(path: &str, detail: &str, log: &VerboseLog) -> String {
    let mut out = format!("Permission denied (403) at {path}.\n");
    match missing_scope(detail) {
        Some(scope) => out.push_str(&format!(
            "Cause: the key lacks the {scope} scope. Create a personal API key with {scope} and run again with it.\n"
        )),
        None => out.push_str(&format!("The API said: {detail}\n")),
    }
    out.push_str(&format!("Verbose log: {}", log.path().display()));
    out
}

/// `GET <server><path>` with a bearer credential.
pub async fn get_raw(
    session: &Session,
    server: &str,
    path: &str,
    key: &Credential,
) -> Result<Answer, WizardError> {
    let url = format!("{server}{path}");
    session
        .send(
            &format!("GET {path}"),
            &url,
            session.client().get(&url).bearer_auth(key.expose()),
        )
        .await
}

/// Turns an answer into `T`, or an explained error (which names the other
/// region only when `--base-url` did not pin the server).
pub fn read<T: DeserializeOwned>(
    session: &Session,
    answer: &Answer,
    path: &str,
) -> Result<T, WizardError> {
    match answer.status.as_u16() {
        200 => answer.json(path),
        401 => Err(WizardError::Auth(explain_401(
            path,
            &answer.message(),
            session.config.pinned(),
            &session.log,
        ))),
        403 => Err(WizardError::Auth(explain_403(
            path,
            &answer.message(),
            &session.log,
        ))),
        status => Err(WizardError::Internal(format!(
            "{path} answered {status}: {}",
            answer.message()
        ))),
    }
}

/// `GET <server><path>`, read as `T` or explained.
pub async fn get<T: DeserializeOwned>(
    session: &Session,
    server: &str,
    path: &str,
    key: &Credential,
) -> Result<T, WizardError> {
    let answer = get_raw(session, server, path, key).await?;
    read(session, &answer, path)
}

/// The user `key` belongs to, with their current project.
pub async fn me(session: &Session, server: &str, key: &Credential) -> Result<Me, WizardError> {
    get(session, server, protocol::paths::USERS_ME, key).await
}

pub async fn project(
    session: &Session,
    server: &str,
    key: &Credential,
    id: i64,
) -> Result<Project, WizardError> {
    get(session, server, &protocol::paths::project(id), key).await
}

/// `GET /api/environments/{id}/health_issues/?status=active&dismissed=false&limit=250`.
pub fn health_issues_path(project_id: i64) -> String {
    format!("/api/environments/{project_id}/health_issues/?status=active&dismissed=false&limit=250")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_key_causes_table() {
        let cases = [
            (
                "Invalid credential: this key or token has expired.",
                Some(DeadKey::Expired),
            ),
            (
                "Invalid credential: this key or token has been revoked.",
                Some(DeadKey::Revoked),
            ),
            (
                "Invalid credential: this key or token is unknown.",
                Some(DeadKey::Unknown),
            ),
            ("Authentication credentials were not provided.", None),
        ];
        for (detail, cause) in cases {
            assert_eq!(DeadKey::from_detail(detail), cause, "{detail}");
        }
    }

    #[test]
    fn an_unknown_key_suggests_the_other_region_only_when_no_server_is_pinned() {
        // (cause, pinned, must contain, must not contain)
        let cases = [
            (DeadKey::Unknown, false, "--region", "--base-url"),
            (DeadKey::Unknown, true, "--base-url", "--region"),
            (DeadKey::Expired, true, "expired", "--region"),
            (DeadKey::Revoked, true, "revoked", "--region"),
        ];
        for (cause, pinned, wanted, unwanted) in cases {
            let sentence = cause.sentence(pinned);
            assert!(sentence.contains(wanted), "{cause:?} {pinned}: {sentence}");
            assert!(
                !sentence.contains(unwanted),
                "{cause:?} {pinned}: {sentence}"
            );
        }
    }

    #[test]
    fn the_missing_scope_is_read_from_the_detail() {
        assert_eq!(
            missing_scope("API key missing required scope 'health_issue:read'").as_deref(),
            Some("health_issue:read")
        );
        assert_eq!(
            missing_scope("This personal API key is scoped to another project."),
            None
        );
    }
}
