//! The token endpoint's decisions, as plain functions over what was
//! loaded: which grant a request asks for, which checks a code must pass
//! before it is consumed (a mistake leaves it as it was) and which after
//! (a code that fails them stays consumed), what the interactive login
//! binds a code to, and how the answer reads.

use protocol::credential::{Credential, CredentialKind};
use protocol::oauth::{
    AvailableTeam, TokenAccount, TokenAnswer, TokenRequest, GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
};
use protocol::pkce::{CodeChallenge, CodeVerifier};

use crate::db::login::CodeBinding;
use crate::db::{Application, AuthMethod, Code, Team};
use crate::error::ApiError;
use crate::policy::ScopePolicy;
use crate::stripe::Door;

/// The refusal of a code that is unknown, expired, used, or not this
/// request's to exchange.
pub const INVALID_CODE: &str = "Invalid or expired authorization code";

/// The refusal of a refresh token that is unknown, revoked or rotated.
pub const INVALID_REFRESH: &str = "Invalid or revoked refresh token";

/// What a token request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
}

/// The grant a request names (`grant_type`), or why it names none.
pub fn grant_of(request: &TokenRequest) -> Result<Grant, ApiError> {
    match request.grant_type.as_deref() {
        None | Some("") => Err(ApiError::InvalidRequest("grant_type is required".into())),
        Some(GRANT_AUTHORIZATION_CODE) => Ok(Grant::AuthorizationCode),
        Some(GRANT_REFRESH_TOKEN) => Ok(Grant::RefreshToken),
        Some(other) => Err(ApiError::UnsupportedGrantType(format!(
            "grant_type {other:?} is not supported (use authorization_code or refresh_token)"
        ))),
    }
}

/// A request's field, unless it is absent or empty.
pub fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.is_empty())
}

/// Whether `door` redeems codes and refresh tokens issued to
/// `application`: `/api/agentic` every application's, the Stripe
/// namespace only a Stripe-signed (hmac) partner's.
pub fn door_redeems(door: Door<'_>, application: Option<&Application>) -> bool {
    match door {
        Door::Agentic => true,
        Door::Stripe(_) => {
            application.is_some_and(|application| application.auth_method == AuthMethod::Hmac)
        }
    }
}

/// What the exchange of a code knows once the code is loaded.
#[derive(Debug)]
pub struct CodeExchange<'a> {
    pub door: Door<'a>,
    pub policy: &'a ScopePolicy,
    /// The code as found (of its columns only `consumed_at` ever changes,
    /// and the exchange's write settles that).
    pub code: &'a Code,
    /// The request's `redirect_uri`, if not empty.
    pub redirect_uri: Option<&'a str>,
    /// The request's `code_verifier`, if not empty.
    pub verifier: Option<&'a str>,
    /// Who signed the request (`None`: it is unsigned), read only for a
    /// code issued without a challenge (an hmac partner's).
    pub signer: Option<Result<Application, ApiError>>,
    /// The scope ceiling of the code's application (none when it is gone).
    pub ceiling: &'a [String],
    pub now: i64,
}

/// What the exchange does with a code that may be consumed.
#[derive(Debug)]
pub enum Plan {
    /// Consume it and issue tokens carrying its scopes, valid `lifetime`
    /// seconds.
    Issue { lifetime: i64 },
    /// Consume it, and refuse.
    Burn(ApiError),
}

/// The exchange's decision, in the real order. `Err`: refused, the code
/// left as it was (a wrong endpoint or a missing verifier is a mistake,
/// not an attack; in eras that verify before they consume, so is a wrong
/// verifier). `Ok`: the code is consumed, and the plan says whether tokens
/// come of it.
pub fn decide(exchange: CodeExchange<'_>) -> Result<Plan, ApiError> {
    let CodeExchange {
        door,
        policy,
        code,
        verifier,
        now,
        ..
    } = exchange;
    // RFC 6749 section 4.1.3: a code issued to a redirect URI is exchanged
    // only with that same URI (the agentic endpoint's callers send none, so
    // an interactive-login code belongs at /oauth/token).
    if let Some(expected) = code.redirect_uri.as_deref() {
        if exchange.redirect_uri != Some(expected) {
            return Err(ApiError::InvalidGrant(
                "This code was issued by the interactive login: exchange it at /oauth/token with its redirect_uri".into(),
            ));
        }
    }
    if code.code_challenge.is_some() && verifier.is_none() {
        return Err(match door {
            Door::Agentic => policy.missing_code_verifier(),
            Door::Stripe(stripe) => {
                ApiError::AuthenticationRequired(stripe.messages.verifier_required.clone())
            }
        });
    }
    if code.code_challenge.is_none() {
        // An hmac partner's code: only that partner's signed request may
        // exchange it.
        let partner = match (door, exchange.signer) {
            (Door::Agentic, None) => return Err(policy.unsigned_code_without_challenge()),
            (Door::Stripe(stripe), None) => {
                return Err(ApiError::AuthenticationRequired(
                    stripe.messages.authentication_required.clone(),
                ))
            }
            (_, Some(signer)) => signer?,
        };
        if partner.client_id != code.client_id {
            return Err(ApiError::InvalidClient(
                "This code was issued to another partner".into(),
            ));
        }
    }
    // In eras that verify before they consume, a wrong verifier leaves a
    // live code as it was: the right verifier still works.
    let live = code.consumed_at.is_none() && now < code.expires_at;
    if live && !policy.tokens.pkce_mismatch_burns_code {
        verify_pkce(code, verifier)?;
    }
    Ok(
        match check_code(door, policy, code, verifier, exchange.ceiling, now) {
            Ok(()) => Plan::Issue {
                lifetime: access_seconds(policy, door),
            },
            Err(refusal) => Plan::Burn(refusal),
        },
    )
}

/// What the exchange checks on a code before it issues tokens: expiry,
/// the PKCE verifier, and (except in the Stripe namespace, which holds
/// Stripe to no ceiling) the scopes against the era's rules and the
/// application's `ceiling`.
fn check_code(
    door: Door<'_>,
    policy: &ScopePolicy,
    code: &Code,
    verifier: Option<&str>,
    ceiling: &[String],
    now: i64,
) -> Result<(), ApiError> {
    if now >= code.expires_at {
        return Err(ApiError::InvalidGrant(INVALID_CODE.into()));
    }
    verify_pkce(code, verifier)?;
    match door {
        Door::Agentic => policy.check_code_scopes(&protocol::scope::split(&code.scopes), ceiling),
        Door::Stripe(_) => Ok(()),
    }
}

/// The lifetime of an access token issued at this door.
pub fn access_seconds(policy: &ScopePolicy, door: Door<'_>) -> i64 {
    match door {
        Door::Agentic => policy.tokens.access_seconds,
        Door::Stripe(stripe) => stripe.access_seconds,
    }
}

/// The verifier answers the code's challenge (a code without one, an hmac
/// partner's, has nothing to verify).
pub fn verify_pkce(code: &Code, verifier: Option<&str>) -> Result<(), ApiError> {
    let Some(challenge) = &code.code_challenge else {
        return Ok(());
    };
    let answered = match (
        verifier.map(CodeVerifier::parse),
        CodeChallenge::parse(challenge, Some("S256")),
    ) {
        (Some(Ok(verifier)), Ok(challenge)) => challenge.is_answered_by(&verifier),
        _ => false,
    };
    match answered {
        true => Ok(()),
        false => Err(ApiError::InvalidGrant(
            "PKCE code_verifier does not match".into(),
        )),
    }
}

/// The refresh token a request presents, parsed: required, and a `phr_`.
pub fn refresh_credential(presented: Option<&str>) -> Result<Credential, ApiError> {
    let presented = presented
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("refresh_token is required".into()))?;
    Credential::parse(presented)
        .ok()
        .filter(|credential| credential.kind() == CredentialKind::RefreshToken)
        .ok_or_else(|| ApiError::InvalidGrant(INVALID_REFRESH.into()))
}

/// The interactive login's binding (RFC 6749 section 4.1.3): its code is
/// exchanged only by the client it was issued to, with the redirect URI
/// of its authorization request when that request named one. A code shown
/// on the page to paste (an authorization request without a redirect URI)
/// never travelled through a redirect, so any `redirect_uri` the client
/// sends is ignored: the client cannot know which way its person fetched
/// the code. Checked before the code is consumed: a client that sent the
/// wrong redirect URI is mistaken, not holding a stolen code's verifier.
pub fn check_binding(
    binding: &CodeBinding,
    client_id: &str,
    redirect_uri: Option<&str>,
) -> Result<(), ApiError> {
    if binding.client_id != client_id {
        return Err(ApiError::InvalidGrant(
            "The authorization code was issued to another client".into(),
        ));
    }
    match binding.redirect_uri.as_deref() {
        Some(bound) if Some(bound) != redirect_uri => Err(ApiError::InvalidGrant(
            "redirect_uri does not match the one of the authorization request".into(),
        )),
        _ => Ok(()),
    }
}

/// `account` of an exchange's answer: the organization of the code's
/// `team` and every non-demo team of the user (`teams`).
pub fn token_account(team: Team, teams: Vec<Team>) -> TokenAccount {
    TokenAccount {
        id: team.organization_id,
        payment_credentials: "orchestrator".into(),
        available_teams: teams
            .into_iter()
            .filter(|team| !team.is_demo)
            .map(|team| AvailableTeam {
                id: team.id,
                name: team.name,
                organization_id: team.organization_id,
                organization_name: team.organization_name,
            })
            .collect(),
    }
}

/// The answer issuing `access` and `refresh`, carrying `scope`.
pub fn token_answer(
    access: &Credential,
    refresh: &Credential,
    lifetime: i64,
    scope: String,
    account: Option<TokenAccount>,
) -> TokenAnswer {
    TokenAnswer {
        token_type: "bearer".into(),
        access_token: access.expose().to_owned(),
        refresh_token: refresh.expose().to_owned(),
        expires_in: lifetime,
        scope,
        account,
        scoped_teams: None,
        posthog_region: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn code(challenge: bool, redirect_uri: Option<&str>) -> Code {
        let verifier = CodeVerifier::parse(VERIFIER).unwrap();
        Code {
            code_hash: "h".into(),
            client_id: "partner".into(),
            user_id: 1,
            team_id: 1,
            scopes: "user:read".into(),
            code_challenge: challenge.then(|| verifier.challenge().as_str().to_owned()),
            redirect_uri: redirect_uri.map(str::to_owned),
            region: "us".into(),
            expires_at: 1_300,
            consumed_at: None,
        }
    }

    fn signed_by(client_id: &str) -> Option<Result<Application, ApiError>> {
        Some(Ok(Application::for_test(client_id, "")))
    }

    /// The outcome as a row reads it: `Err(code)` refused and left alone,
    /// `Ok(Ok(lifetime))` consumed and issued, `Ok(Err(code))` burnt.
    type Outcome = Result<Result<i64, &'static str>, &'static str>;

    fn run(
        era: &str,
        code: &Code,
        presented: (Option<&str>, Option<&str>),
        signer: Option<Result<Application, ApiError>>,
        now: i64,
    ) -> Outcome {
        let policy = ScopePolicy::load(era).unwrap();
        let ceiling = vec!["user:read".to_owned()];
        let (redirect_uri, verifier) = presented;
        let decided = decide(CodeExchange {
            door: Door::Agentic,
            policy: &policy,
            code,
            redirect_uri,
            verifier,
            signer,
            ceiling: &ceiling,
            now,
        });
        match decided {
            Err(refusal) => Err(refusal.code()),
            Ok(Plan::Issue { lifetime }) => Ok(Ok(lifetime)),
            Ok(Plan::Burn(refusal)) => Ok(Err(refusal.code())),
        }
    }

    /// Era, code, the request's redirect URI and verifier, its signer, the
    /// time, and the outcome.
    type Row<'a> = (
        &'a str,
        &'a Code,
        (Option<&'a str>, Option<&'a str>),
        Option<Result<Application, ApiError>>,
        i64,
        Outcome,
    );

    /// If a row fails, a code is exchanged at the wrong endpoint or by the
    /// wrong partner, a mistake burns a code it should have left alone, or
    /// a wrong verifier leaves a code live in an era that burns it (or the
    /// other way round).
    #[test]
    fn exchange_table() {
        let pkce = code(true, None);
        let interactive = code(true, Some("http://localhost/callback"));
        let hmac = code(false, None);
        let right = (None, Some(VERIFIER));
        let wrong = (None, Some("wrong-verifier-wrong-verifier-wrong-verifier"));
        let rows: Vec<Row> = vec![
            ("current", &pkce, right, None, 1_000, Ok(Ok(3600))),
            (
                "current",
                &pkce,
                (None, None),
                None,
                1_000,
                Err("invalid_request"),
            ),
            (
                "legacy",
                &pkce,
                (None, None),
                None,
                1_000,
                Err("invalid_request"),
            ),
            // Today a wrong verifier leaves the code as it was; before, it burnt it.
            ("current", &pkce, wrong, None, 1_000, Err("invalid_grant")),
            (
                "legacy",
                &pkce,
                wrong,
                None,
                1_000,
                Ok(Err("invalid_grant")),
            ),
            // An expired code is consumed and refused.
            (
                "current",
                &pkce,
                right,
                None,
                1_300,
                Ok(Err("invalid_grant")),
            ),
            (
                "current",
                &interactive,
                right,
                None,
                1_000,
                Err("invalid_grant"),
            ),
            (
                "current",
                &interactive,
                (Some("http://localhost/callback"), Some(VERIFIER)),
                None,
                1_000,
                Ok(Ok(3600)),
            ),
            (
                "legacy",
                &hmac,
                (None, None),
                None,
                1_000,
                Err("invalid_client"),
            ),
            (
                "current",
                &hmac,
                (None, None),
                None,
                1_000,
                Err("invalid_request"),
            ),
            (
                "current",
                &hmac,
                (None, None),
                signed_by("other"),
                1_000,
                Err("invalid_client"),
            ),
            (
                "current",
                &hmac,
                (None, None),
                signed_by("partner"),
                1_000,
                Ok(Ok(3600)),
            ),
            (
                "current",
                &hmac,
                (None, None),
                Some(Err(ApiError::InvalidSignature("stale".into()))),
                1_000,
                Err("invalid_signature"),
            ),
        ];
        for (index, (era, code, presented, signer, now, expected)) in rows.into_iter().enumerate() {
            assert_eq!(
                run(era, code, presented, signer, now),
                expected,
                "row {index} ({era})"
            );
        }
    }

    /// If this fails, a code today's era holds outside the ceiling is
    /// issued tokens, or one it should take is burnt.
    #[test]
    fn the_ceiling_is_held_after_consumption_today() {
        let mut wide = code(true, None);
        wide.scopes = "llm_gateway:write".into();
        let right = (None, Some(VERIFIER));
        assert_eq!(
            run("current", &wide, right, None, 1_000),
            Ok(Err("invalid_scope"))
        );
        assert_eq!(run("legacy", &wide, right, None, 1_000), Ok(Ok(3600)));
    }

    #[test]
    fn grant_types_and_refresh_tokens() {
        let request = |grant_type: Option<&str>| TokenRequest {
            grant_type: grant_type.map(str::to_owned),
            ..TokenRequest::default()
        };
        assert_eq!(
            grant_of(&request(Some("authorization_code"))).unwrap(),
            Grant::AuthorizationCode
        );
        assert_eq!(
            grant_of(&request(Some("refresh_token"))).unwrap(),
            Grant::RefreshToken
        );
        assert_eq!(
            grant_of(&request(None)).unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            grant_of(&request(Some(""))).unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            grant_of(&request(Some("password"))).unwrap_err().code(),
            "unsupported_grant_type"
        );
        assert_eq!(
            refresh_credential(None).unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            refresh_credential(Some("")).unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            refresh_credential(Some("pha_nope")).unwrap_err().code(),
            "invalid_grant"
        );
    }

    /// If this fails, an interactive-login code is exchanged by another
    /// client or with another redirect URI than its authorization's.
    #[test]
    fn the_interactive_binding() {
        let binding = CodeBinding {
            client_id: "wizard".into(),
            redirect_uri: Some("http://localhost:1/callback".into()),
            team_id: 1,
        };
        assert!(check_binding(&binding, "wizard", Some("http://localhost:1/callback")).is_ok());
        assert!(check_binding(&binding, "other", Some("http://localhost:1/callback")).is_err());
        assert!(check_binding(&binding, "wizard", None).is_err());
        assert!(check_binding(&binding, "wizard", Some("http://localhost:2/callback")).is_err());
        let pasted = CodeBinding {
            redirect_uri: None,
            ..binding
        };
        assert!(check_binding(&pasted, "wizard", None).is_ok());
        assert!(check_binding(&pasted, "wizard", Some("http://localhost:2/callback")).is_ok());
        assert!(check_binding(&pasted, "other", None).is_err());
    }
}
