//! Bearer credentials: from a presented string to what it grants.
//!
//! Credentials are looked up by their SHA-256 hash, never compared in
//! plain; the lookup's timing can reveal at most something about a hash,
//! which says nothing usable about the secret.

use std::sync::Arc;

use protocol::credential::{hash_secret, Credential, CredentialKind};
use protocol::scope::Scopes;

use crate::db::Holder;
use crate::error::ApiError;
use crate::state::AppState;

/// A live credential, what it grants, and who holds it: the user and the
/// user's live teams, oldest membership first (read with the credential,
/// shared with the holder index; `live.grant`, `live.user` and
/// `live.teams` read through to the [`Holder`]).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub kind: CredentialKind,
    pub holder: Arc<Holder>,
}

impl std::ops::Deref for Authenticated {
    type Target = Holder;

    fn deref(&self) -> &Holder {
        &self.holder
    }
}

impl Authenticated {
    pub fn scopes(&self) -> Scopes {
        Scopes::parse(&self.grant.scopes)
    }

    /// Whether the credential may use an endpoint that needs `needed`, as
    /// PostHog's `APIScopePermission` decides: a personal key without any
    /// scope is a legacy key that may do anything; an access token without
    /// any may do nothing; otherwise `*`, the scope itself, or (for a
    /// `:read`) its `:write`.
    pub fn check_scope(&self, needed: &str) -> Result<(), ApiError> {
        // Read on every PostHog API request: the stored text is scanned in
        // place, never split into a list.
        if self.grant.scopes.split_whitespace().next().is_none() {
            return match self.kind {
                CredentialKind::PersonalApiKey => Ok(()),
                _ => Err(ApiError::Forbidden(
                    "OAuth token has no scopes and cannot access this resource".into(),
                )),
            };
        }
        let granted = protocol::scope::grant_allows(&self.grant.scopes, needed);
        match granted {
            true => Ok(()),
            false => Err(ApiError::MissingScope(needed.to_owned())),
        }
    }
}

/// Why a presented credential is not live. PostHog tells these apart in
/// its 401 details, and so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dead {
    Missing,
    /// Malformed, of a kind not accepted here, or not in the database.
    Unknown,
    Revoked,
    Expired,
    /// Issued to (or minted through) a partner that is now deactivated.
    PartnerDeactivated,
}

impl Dead {
    pub fn verdict(self) -> &'static str {
        match self {
            Dead::Missing => "missing_credential",
            Dead::Unknown => "unknown_credential",
            Dead::Revoked => "revoked_credential",
            Dead::Expired => "expired_credential",
            Dead::PartnerDeactivated => "deactivated_partner",
        }
    }

    /// The `detail` of a PostHog API 401.
    pub fn detail(self) -> &'static str {
        match self {
            Dead::Missing => "Authentication credentials were not provided.",
            Dead::Unknown => "Invalid credential: this key or token is unknown.",
            Dead::Revoked => "Invalid credential: this key or token has been revoked.",
            Dead::Expired => "Invalid credential: this key or token has expired.",
            Dead::PartnerDeactivated => {
                "Invalid credential: Partner is deactivated (the application that issued this key or token)."
            }
        }
    }

    pub fn into_error(self) -> ApiError {
        match self {
            Dead::Missing => ApiError::NotAuthenticated(self.detail().into()),
            _ => ApiError::Unauthorized(self.detail().into()),
        }
    }
}

/// Resolves `presented` if it is one of `accepted` kinds and live now.
pub async fn resolve(
    state: &AppState,
    presented: Option<&str>,
    accepted: &[CredentialKind],
) -> Result<Result<Authenticated, Dead>, ApiError> {
    let Some(presented) = presented else {
        return Ok(Err(Dead::Missing));
    };
    let kind = match Credential::kind_of(presented) {
        Ok(kind) if accepted.contains(&kind) => kind,
        _ => return Ok(Err(Dead::Unknown)),
    };
    let hash = hash_secret(presented);
    let holder = match kind {
        CredentialKind::AccessToken => state.db.access_token_holder(&hash).await?,
        CredentialKind::PersonalApiKey => state.db.personal_key_holder(&hash).await?,
        CredentialKind::RefreshToken
        | CredentialKind::ProjectApiKey
        | CredentialKind::GatewayToken
        | CredentialKind::GatewayMintKey => None,
    };
    Ok(judge(kind, holder, state.clock.now()))
}

/// The rule of [`resolve`], over the holder found for a credential of
/// `kind` (`None`: no such credential): live at `now`, or why not.
pub fn judge(
    kind: CredentialKind,
    holder: Option<Arc<Holder>>,
    now: i64,
) -> Result<Authenticated, Dead> {
    let Some(holder) = holder else {
        return Err(Dead::Unknown);
    };
    let grant = &holder.grant;
    if grant.revoked_at.is_some() {
        return Err(Dead::Revoked);
    }
    if grant.expires_at.is_some_and(|expires_at| now >= expires_at) {
        return Err(Dead::Expired);
    }
    // The partner's `active` flag comes from the same query as the grant
    // (a join, not a cache): a deactivation is seen on the next request.
    if grant.client_id.is_some() && grant.partner_active == Some(false) {
        return Err(Dead::PartnerDeactivated);
    }
    Ok(Authenticated { kind, holder })
}

/// Marks the journal entry with how a bearer credential was judged.
pub fn verdict(result: &Result<Authenticated, Dead>) -> crate::http::Verdict {
    crate::http::Verdict(match result {
        Ok(_) => "granted",
        Err(dead) => dead.verdict(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Grant, User};

    fn holder(
        client_id: Option<&str>,
        expires_at: Option<i64>,
        revoked_at: Option<i64>,
        partner_active: Option<bool>,
    ) -> Arc<Holder> {
        Arc::new(Holder {
            grant: Grant {
                client_id: client_id.map(str::to_owned),
                user_id: 1,
                team_id: 1,
                scopes: "user:read".into(),
                created_at: 0,
                expires_at,
                revoked_at,
                code_hash: None,
                partner_active,
            },
            user: User::for_test(),
            teams: Vec::new(),
            answers: Default::default(),
        })
    }

    /// If a row fails, a revoked, expired or deactivated partner's
    /// credential is let in, or a live one is refused (or refused for the
    /// wrong reason, which the 401's detail names).
    #[test]
    fn judge_table() {
        let cases = [
            (None, Err(Dead::Unknown)),
            (Some(holder(Some("p"), Some(100), None, Some(true))), Ok(())),
            (Some(holder(None, None, None, None)), Ok(())),
            (
                Some(holder(Some("p"), Some(100), Some(50), Some(true))),
                Err(Dead::Revoked),
            ),
            (
                Some(holder(Some("p"), Some(99), None, Some(true))),
                Err(Dead::Expired),
            ),
            (
                Some(holder(Some("p"), Some(100), None, Some(false))),
                Err(Dead::PartnerDeactivated),
            ),
            // No registered partner to be deactivated.
            (Some(holder(Some("p"), None, None, None)), Ok(())),
        ];
        for (index, (holder, expected)) in cases.into_iter().enumerate() {
            let got = judge(CredentialKind::AccessToken, holder, 99).map(|_| ());
            assert_eq!(got, expected, "row {index}");
        }
    }
}
