//! The Stripe partners' own namespace, `/api/partners/stripe/…`
//! (`ee/partners/stripe/` of the real server), for eras whose profile
//! serves it (`[stripe] namespace`).
//!
//! Its routes are the same endpoints as under `/api/agentic` (each
//! endpoint's file registers both); what the namespace does differently is
//! decided here and by the era's `[stripe]` fields: every request is
//! Stripe-signed (the token endpoint takes a PKCE verifier instead), a
//! resource request also needs a bearer token of a Stripe-signed partner,
//! tokens live `stripe.access_seconds`, the partner's scopes are not held
//! against a ceiling, and errors are worded as `[stripe.messages]` says.
//! Under `/api/agentic` the same partners keep being served by the rules
//! every partner meets there, so codes, bearers and refresh tokens work
//! across both.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::auth::{self, Authenticated};
use crate::db::{Application, AuthMethod};
use crate::error::{ApiError, Envelope, ResourceRefusal};
use crate::http::{bearer, check_api_version};
use crate::policy::{ScopePolicy, StripeMessages, LABEL_PREFIX_MAX_CHARS};
use crate::state::AppState;

/// Why a deep link of the namespace stopped at the verify-email page: the
/// app's page reads it to say so (a pinned value of the real server).
pub const VERIFY_EMAIL_REASON: &str = "stripe_deep_link";

/// The door a provisioning request came in by.
#[derive(Debug, Clone, Copy)]
pub enum Door<'a> {
    /// `/api/agentic/…`: every partner, by the era's rules.
    Agentic,
    /// `/api/partners/stripe/…`.
    Stripe(&'a StripeNamespace),
}

impl Door<'_> {
    /// The scopes of the personal key minted with a resource (or its
    /// rotation) at this door, `None` for no key: the era's rule under
    /// `/api/agentic`; in the Stripe namespace always a key, carrying the
    /// token's scopes as granted (the partner's ceiling when it holds none),
    /// since the namespace holds Stripe to no ceiling.
    pub fn personal_api_key_scopes(
        self,
        policy: &ScopePolicy,
        token_scopes: &[String],
        ceiling: &[String],
        gate_on: bool,
    ) -> Option<Vec<String>> {
        match self {
            Door::Agentic => policy.personal_api_key_scopes(token_scopes, ceiling, gate_on),
            Door::Stripe(_) if token_scopes.is_empty() => Some(ceiling.to_vec()),
            Door::Stripe(_) => Some(token_scopes.to_vec()),
        }
    }
}

/// Proof that the era serves the Stripe namespace, with its rules; a route
/// of the namespace that takes it answers 404 in an era that does not.
#[derive(Debug, Clone)]
pub struct StripeNamespace {
    pub messages: StripeMessages,
    /// Lifetime of the access tokens its token endpoint issues.
    pub access_seconds: i64,
}

impl FromRequestParts<AppState> for StripeNamespace {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match state.policy.stripe_namespace() {
            Some(messages) => Ok(StripeNamespace {
                messages: messages.clone(),
                access_seconds: state.policy.stripe.access_seconds,
            }),
            None => {
                let path = protocol::credential::redact_secrets(parts.uri.path());
                Err(ApiError::NotFound(format!("No route for {path}"))
                    .into_envelope(Envelope::Plain)
                    .into_response())
            }
        }
    }
}

impl StripeNamespace {
    /// The namespace's uniform checks, in its order: the signature over
    /// `body`, then the API-Version.
    pub async fn signed(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Application, ApiError> {
        let partner = self.signature(state, headers, body).await?;
        check_api_version(headers)?;
        Ok(partner)
    }

    /// The Stripe-signed partner whose secret signed `body`. Every failure
    /// (no header, malformed, stale, no match) reads the same.
    pub async fn signature(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Application, ApiError> {
        let failed = || ApiError::InvalidSignature(self.messages.signature_failed.clone());
        let header = headers
            .get(protocol::signature::HEADER)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(failed)?;
        let partner = verify_signature(state, header, body)
            .await
            .map_err(|error| match error {
                ApiError::InvalidSignature(_) => failed(),
                other => other,
            })?;
        if !partner.active {
            return Err(ApiError::Unauthorized("Partner is deactivated".into()));
        }
        Ok(partner)
    }

    /// A resource request's checks, in the namespace's order: a live
    /// bearer token issued to a Stripe-signed partner, then the signature
    /// over `body`, then the API-Version. Their failures answer in the
    /// resource envelope with an empty id, before the path is read (deep
    /// links' too).
    pub async fn resource_request(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Authenticated, ResourceRefusal> {
        let refused = ResourceRefusal::naming("");
        let token = self.bearer(state, headers).await.map_err(&refused)?;
        self.signed(state, headers, body).await.map_err(&refused)?;
        Ok(token)
    }

    /// The bearer token of a Stripe-signed partner (without the signature:
    /// [`StripeNamespace::resource_request`] checks both).
    pub async fn bearer(
        &self,
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Authenticated, ApiError> {
        let messages = &self.messages;
        let token = match auth::resolve(
            state,
            bearer(headers),
            &[protocol::credential::CredentialKind::AccessToken],
        )
        .await?
        {
            Ok(token) => token,
            Err(auth::Dead::Missing) => {
                return Err(ApiError::Unauthorized(messages.bearer_missing.clone()))
            }
            Err(auth::Dead::Expired) => {
                return Err(ApiError::Unauthorized(messages.bearer_expired.clone()))
            }
            Err(_) => return Err(ApiError::Unauthorized(messages.bearer_invalid.clone())),
        };
        match is_stripe_signed(state, token.grant.client_id.as_deref()).await? {
            true => Ok(token),
            false => Err(ApiError::Unauthorized(
                messages.bearer_of_another_app.clone(),
            )),
        }
    }
}

impl StripeNamespace {
    /// A resource request's optional `label_prefix`: absent, null or blank
    /// is none; else a string of at most [`LABEL_PREFIX_MAX_CHARS`]
    /// characters (once trimmed) with no control or format character and
    /// no line or paragraph separator.
    pub fn check_label_prefix(&self, value: Option<&serde_json::Value>) -> Result<(), ApiError> {
        let messages = &self.messages;
        let refuse = |message: &String| Err(ApiError::InvalidLabelPrefix(message.clone()));
        let text = match value {
            None | Some(serde_json::Value::Null) => return Ok(()),
            Some(serde_json::Value::String(text)) => text.trim(),
            Some(_) => return refuse(&messages.label_prefix_not_a_string),
        };
        if text.chars().count() > LABEL_PREFIX_MAX_CHARS {
            return refuse(&messages.label_prefix_too_long);
        }
        // Line and paragraph separators break the label's line as well.
        let breaks_the_label = |c: char| {
            c.is_control() || is_format_character(c) || matches!(c, '\u{2028}' | '\u{2029}')
        };
        if text.chars().any(breaks_the_label) {
            return refuse(&messages.label_prefix_characters);
        }
        Ok(())
    }
}

/// Unicode's format characters (general category Cf): invisible marks,
/// among them the bidirectional overrides that would make a key's label in
/// the user's list read other than it is.
pub fn is_format_character(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Whether `client_id` names a Stripe-signed (hmac) partner: the only
/// application whose codes, tokens and resources the namespace serves.
pub async fn is_stripe_signed(state: &AppState, client_id: Option<&str>) -> Result<bool, ApiError> {
    let Some(client_id) = client_id else {
        return Ok(false);
    };
    Ok(state
        .db
        .application(client_id)
        .await?
        .is_some_and(|application| application.auth_method == AuthMethod::Hmac))
}

/// Finds the hmac partner whose secret signed `body`. A header that fails
/// for every partner reports the most telling reason (malformed, out of
/// tolerance, no match).
pub async fn verify_signature(
    state: &AppState,
    header: &str,
    body: &[u8],
) -> Result<Application, ApiError> {
    use protocol::signature::{verify, SignatureError};
    let mut worst = SignatureError::NoMatch;
    for partner in state.db.applications().await? {
        if partner.auth_method != AuthMethod::Hmac {
            continue;
        }
        let secrets = partner.secret_list();
        let secrets: Vec<&[u8]> = secrets.iter().map(|secret| secret.as_bytes()).collect();
        match verify(header, body, &secrets, state.clock.now()) {
            Ok(_) => return Ok(partner),
            Err(SignatureError::NoMatch) => {}
            Err(error) => worst = error,
        }
    }
    Err(ApiError::InvalidSignature(worst.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn personal_keys_by_door() {
        let policy = crate::policy::ScopePolicy::load("current").unwrap();
        let stripe = StripeNamespace {
            messages: policy.stripe_namespace().unwrap().clone(),
            access_seconds: policy.stripe.access_seconds,
        };
        let strings =
            |list: &[&str]| -> Vec<String> { list.iter().map(|s| (*s).to_owned()).collect() };
        let ceiling = strings(&["query:read", "user:read"]);
        let token = strings(&["query:read", "llm_gateway:write"]);
        // (door, token scopes, gate on, expected)
        type Case<'a> = (Door<'a>, Vec<String>, bool, Option<Vec<String>>);
        let cases: [Case; 5] = [
            (Door::Agentic, token.clone(), false, None),
            (
                Door::Agentic,
                token.clone(),
                true,
                Some(strings(&["query:read"])),
            ),
            (
                Door::Stripe(&stripe),
                token.clone(),
                false,
                Some(token.clone()),
            ),
            (
                Door::Stripe(&stripe),
                token.clone(),
                true,
                Some(token.clone()),
            ),
            (Door::Stripe(&stripe), vec![], false, Some(ceiling.clone())),
        ];
        for (door, scopes, gate_on, expected) in cases {
            let got = door.personal_api_key_scopes(&policy, &scopes, &ceiling, gate_on);
            assert_eq!(got, expected, "{door:?}, {scopes:?}, gate {gate_on}");
        }
    }

    #[test]
    fn label_prefix_table() {
        let policy = crate::policy::ScopePolicy::load("current").unwrap();
        let stripe = StripeNamespace {
            messages: policy.stripe_namespace().unwrap().clone(),
            access_seconds: policy.stripe.access_seconds,
        };
        let long = "x".repeat(26);
        let cases: [(Option<serde_json::Value>, Result<(), &str>); 10] = [
            (None, Ok(())),
            (Some(json!(null)), Ok(())),
            (Some(json!("   ")), Ok(())),
            (Some(json!("Stripe")), Ok(())),
            (Some(json!(format!("  {}  ", "x".repeat(25)))), Ok(())),
            (
                Some(json!(long)),
                Err("label_prefix must be 25 characters or fewer"),
            ),
            (
                Some(json!("\u{202e}evil")),
                Err("label_prefix must not contain control or format characters"),
            ),
            (
                Some(json!("a\u{0007}b")),
                Err("label_prefix must not contain control or format characters"),
            ),
            (
                Some(json!("a\u{2028}b")),
                Err("label_prefix must not contain control or format characters"),
            ),
            (Some(json!(123)), Err("label_prefix must be a string")),
        ];
        for (value, expected) in cases {
            let got = stripe
                .check_label_prefix(value.as_ref())
                .map_err(|error| error.to_string());
            assert_eq!(got, expected.map_err(str::to_owned), "{value:?}");
        }
    }
}
