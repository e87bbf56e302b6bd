//! `POST /api/wizard/gateway_token/`: a wizard run trades its `pha_` for a
//! `phe_`, a gateway token for that run alone, which the server asks the LLM
//! gateway to mint (`POST {gateway}/v1/tokens` with the mint key). The
//! checks run in the real endpoint's order; the first that fails answers.
//! A client treats 404 as "stay on the gateway you derive yourself", which is
//! why the refusals older clients absorb answer 404 unless the client says it
//! reads a refusal's reason.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::credential::CredentialKind;
use protocol::error::{ErrorText, PostHogError};
use protocol::gateway::{MintAnswer, MintRequest, MINT_PATH};
use protocol::posthog::{GatewayTokenAnswer, GatewayTokenRequest};
use protocol::scope::{Scopes, LLM_GATEWAY_READ};

use crate::auth::{self, Authenticated, Dead};
use crate::db::{Holder, Team, User};
use crate::error::ApiError;
use crate::http::{bearer, read_body, Verdict};
use crate::posthog_ids;
use crate::state::{AppState, WizardGateway};

/// Mint a gateway token for one wizard run.
#[utoipa::path(
    post,
    path = "/api/wizard/gateway_token",
    tag = "posthog",
    request_body = protocol::posthog::GatewayTokenRequest,
    responses(
        (status = 201, body = protocol::posthog::GatewayTokenAnswer),
        (status = 400, description = "The token is not scoped to exactly one team, or the body is not JSON", body = protocol::error::PostHogError),
        (status = 401, description = "Not a live access token, not issued to a wizard application, or without llm_gateway:read in its scope", body = protocol::error::PostHogError),
        (status = 403, description = "The team is gone or no longer the user's; or, to a client that reads refusal reasons, a refusal named by `code` (unconfigured, not_rolled_out, program_unknown)", body = protocol::error::PostHogError),
        (status = 404, description = "Gateway tokens are not configured in this era, not rolled out, or the program is unknown", body = protocol::error::PostHogError),
        (status = 429, description = "Too many mints for this user this hour", body = protocol::error::PostHogError),
        (status = 503, description = "The gateway refused or could not be reached", body = protocol::error::ErrorText),
    ),
    security(("bearer" = []))
)]
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let outcome = serve(&state, &headers, body).await;
    let (response, verdict) = match outcome {
        Ok(answer) => (
            (StatusCode::CREATED, Json(answer)).into_response(),
            "minted",
        ),
        Err(refusal) => {
            let verdict = refusal.outcome();
            (refusal.into_response(), verdict)
        }
    };
    (Verdict(verdict), response).into_response()
}

/// Why no token was minted: one variant per outcome of the real endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not configured here (or not in this era).
    Unconfigured {
        reads_reason: bool,
    },
    InvalidToken(String),
    NotWizardApp,
    ScopeMissing,
    TeamMissing,
    Unauthorized,
    NotRolledOut {
        reads_reason: bool,
    },
    ProgramUnknown {
        reads_reason: bool,
    },
    /// The body is not JSON.
    ParseError,
    Throttled {
        retry_after: i64,
    },
    MintFailed,
    Internal(String),
}

impl Refusal {
    /// The outcome's name, as the real endpoint counts it (and our journal
    /// records it).
    pub fn outcome(&self) -> &'static str {
        match self {
            Refusal::Unconfigured { .. } => "unconfigured",
            Refusal::InvalidToken(_) => "invalid_token",
            Refusal::NotWizardApp => "not_wizard_app",
            Refusal::ScopeMissing => "scope_missing",
            Refusal::TeamMissing => "team_missing",
            Refusal::Unauthorized => "unauthorized",
            Refusal::NotRolledOut { .. } => "not_rolled_out",
            Refusal::ProgramUnknown { .. } => "program_unknown",
            Refusal::ParseError => "parse_error",
            Refusal::Throttled { .. } => "throttled",
            Refusal::MintFailed => "mint_failed",
            Refusal::Internal(_) => "internal_error",
        }
    }

    /// Status, `type`, `code` and `detail` of the PostHog error envelope.
    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        const AUTHENTICATION: &str = "authentication_error";
        let fallback = |reads_reason: bool, detail: &str| match reads_reason {
            true => (
                StatusCode::FORBIDDEN,
                AUTHENTICATION,
                self.outcome(),
                detail.to_owned(),
            ),
            false => (
                StatusCode::NOT_FOUND,
                "invalid_request",
                "not_found",
                detail.to_owned(),
            ),
        };
        match self {
            Refusal::Unconfigured { reads_reason } => {
                fallback(*reads_reason, "Wizard gateway tokens are not available.")
            }
            Refusal::NotRolledOut { reads_reason } => fallback(
                *reads_reason,
                "Wizard gateway tokens are not rolled out for this organization.",
            ),
            Refusal::ProgramUnknown { reads_reason } => {
                fallback(*reads_reason, "Unrecognized wizard program.")
            }
            Refusal::InvalidToken(detail) => (
                StatusCode::UNAUTHORIZED,
                AUTHENTICATION,
                "authentication_failed",
                detail.clone(),
            ),
            Refusal::NotWizardApp => (
                StatusCode::UNAUTHORIZED,
                AUTHENTICATION,
                "authentication_failed",
                "Access token was not issued to the wizard.".to_owned(),
            ),
            Refusal::ScopeMissing => (
                StatusCode::UNAUTHORIZED,
                AUTHENTICATION,
                "authentication_failed",
                "Access token lacks the gateway scope.".to_owned(),
            ),
            Refusal::TeamMissing => (
                StatusCode::FORBIDDEN,
                AUTHENTICATION,
                "permission_denied",
                "This project does not exist.".to_owned(),
            ),
            Refusal::Unauthorized => (
                StatusCode::FORBIDDEN,
                AUTHENTICATION,
                "permission_denied",
                "Access token is no longer authorized for this project.".to_owned(),
            ),
            Refusal::ParseError => (
                StatusCode::BAD_REQUEST,
                "validation_error",
                "parse_error",
                "JSON parse error".to_owned(),
            ),
            Refusal::Throttled { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "throttled_error",
                "throttled",
                format!("Request was throttled. Expected available in {retry_after} seconds."),
            ),
            Refusal::MintFailed => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "mint_failed",
                "Gateway token mint failed.".to_owned(),
            ),
            Refusal::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "error",
                "A server error occurred.".to_owned(),
            ),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if let Refusal::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let (status, kind, code, detail) = self.parts();
        // The real endpoint answers a failed mint outside its envelope.
        if let Refusal::MintFailed = self {
            return (status, Json(ErrorText { error: detail })).into_response();
        }
        let body = PostHogError {
            kind: kind.to_owned(),
            code: code.to_owned(),
            detail,
            attr: None,
        };
        let mut response = (status, Json(body)).into_response();
        if let Refusal::Throttled { retry_after } = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after.max(1)),
            );
        }
        response
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal::Internal(error.to_string())
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(error: sqlx::Error) -> Refusal {
        Refusal::Internal(error.to_string())
    }
}

/// The body as the endpoint reads it: absent or not an object reads as no
/// program; malformed JSON is remembered and refused where the real
/// endpoint first reads the body (the program check).
enum ReadBody {
    Read(GatewayTokenRequest),
    Malformed,
}

async fn read_request(body: Body) -> ReadBody {
    let Ok(bytes) = read_body(body).await else {
        return ReadBody::Malformed;
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return ReadBody::Read(GatewayTokenRequest::default());
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(value @ serde_json::Value::Object(_)) => ReadBody::Read(GatewayTokenRequest {
            program: value.get("program").cloned(),
            reads_refusal_reason: value.get("reads_refusal_reason")
                == Some(&serde_json::Value::Bool(true)),
        }),
        Ok(_) => ReadBody::Read(GatewayTokenRequest::default()),
        Err(_) => ReadBody::Malformed,
    }
}

/// Reads the request and what it names (the bearer, and the token's team
/// when the user no longer has it), decides, then counts the mint against
/// the user's hourly allowance and asks the gateway.
async fn serve(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<GatewayTokenAnswer, Refusal> {
    let request = read_request(body).await;
    let gateway = match (&state.wizard_gateway, state.policy.wizard_gateway_tokens) {
        (Some(gateway), true) => Some(gateway.clone()),
        _ => None,
    };
    let token = match &gateway {
        Some(gateway) => {
            let kinds: &[CredentialKind] = match gateway.accepts_personal_keys {
                true => &[CredentialKind::AccessToken, CredentialKind::PersonalApiKey],
                false => &[CredentialKind::AccessToken],
            };
            Some(auth::resolve(state, bearer(headers), kinds).await?)
        }
        None => None,
    };
    let team_elsewhere = match &token {
        Some(Ok(live)) if !live.teams.iter().any(|team| team.id == live.grant.team_id) => {
            state.db.team(live.grant.team_id).await?.is_some()
        }
        _ => false,
    };
    let Mint {
        gateway,
        program,
        user,
        team,
    } = decide(Facts {
        request,
        gateway,
        token,
        team_elsewhere,
    })?;
    let now = state.clock.now();
    let (window_start, retry_after) = crate::rate_limit::window(now);
    let allowed = state
        .db
        .take_rate_limit(
            &format!("user:{}", user.id),
            "wizard_gateway_mints",
            window_start,
            gateway.mints_per_hour,
        )
        .await?;
    if !allowed {
        return Err(Refusal::Throttled { retry_after });
    }
    let minted = mint(
        &gateway,
        &MintRequest {
            cap_usd: gateway.cap_usd.clone(),
            ttl_seconds: gateway.ttl_seconds,
            product: format!("wizard:{program}"),
            obo: team.organization_id.clone(),
            user: posthog_ids::distinct_id(&user.uuid),
        },
    )
    .await?;
    Ok(GatewayTokenAnswer {
        token: minted.token,
        expires_at: minted.expires_at,
        cap_usd: Some(minted.cap_usd),
        gateway_url: gateway.url.clone(),
        team_id: team.id,
    })
}

/// What the endpoint knows before it decides.
struct Facts {
    request: ReadBody,
    /// Where to mint, when this era and this server mint at all.
    gateway: Option<Arc<WizardGateway>>,
    /// The bearer, judged (`None` where nothing is minted, so nothing is
    /// read).
    token: Option<Result<Authenticated, Dead>>,
    /// Whether the token's team exists though the user no longer has it.
    team_elsewhere: bool,
}

/// A mint the checks let through.
#[derive(Debug)]
struct Mint {
    gateway: Arc<WizardGateway>,
    program: String,
    user: User,
    team: Team,
}

/// The checks in the real endpoint's order; the first that fails answers.
fn decide(facts: Facts) -> Result<Mint, Refusal> {
    let reads_reason = match &facts.request {
        ReadBody::Read(request) => request.reads_refusal_reason,
        ReadBody::Malformed => false,
    };
    let (Some(gateway), Some(token)) = (facts.gateway, facts.token) else {
        return Err(Refusal::Unconfigured { reads_reason });
    };
    let live = match token {
        Ok(live) => live,
        Err(Dead::Missing | Dead::Unknown) => {
            return Err(Refusal::InvalidToken("Invalid access token.".to_owned()))
        }
        Err(dead) => return Err(Refusal::InvalidToken(dead.detail().to_owned())),
    };
    let Holder {
        grant, user, teams, ..
    } = &*live.holder;
    let is_wizard = grant
        .client_id
        .as_deref()
        .is_some_and(|client_id| gateway.client_ids.iter().any(|id| id == client_id));
    if !is_wizard {
        return Err(Refusal::NotWizardApp);
    }
    // The token's own scope text: `*` does not stand in for the gateway
    // scope here, unlike at the gateway itself.
    if !Scopes::parse(&grant.scopes).contains(LLM_GATEWAY_READ) {
        return Err(Refusal::ScopeMissing);
    }
    // Every token here is scoped to exactly one team, so the real
    // endpoint's "exactly one team" check cannot fail.
    let team = match teams.iter().find(|team| team.id == grant.team_id) {
        Some(team) => team.clone(),
        None if facts.team_elsewhere => return Err(Refusal::Unauthorized),
        None => return Err(Refusal::TeamMissing),
    };
    if !gateway.rolled_out {
        return Err(Refusal::NotRolledOut { reads_reason });
    }
    let request = match facts.request {
        ReadBody::Read(request) => request,
        ReadBody::Malformed => return Err(Refusal::ParseError),
    };
    let program = match request.program {
        Some(serde_json::Value::String(program)) if gateway.programs.contains(&program) => program,
        _ => return Err(Refusal::ProgramUnknown { reads_reason }),
    };
    Ok(Mint {
        gateway,
        program,
        user: user.clone(),
        team,
    })
}

/// Asks the gateway for the token. Any failure is the 503 of the real
/// endpoint; the mint key and the token never reach a log.
async fn mint(gateway: &WizardGateway, request: &MintRequest) -> Result<MintAnswer, Refusal> {
    let url = format!("{}{MINT_PATH}", gateway.url);
    let sent = gateway
        .client
        .post(&url)
        .bearer_auth(&gateway.mint_key)
        .json(request)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(url, error = %protocol::credential::redact_secrets(&error.to_string()), "gateway mint unreachable");
            return Err(Refusal::MintFailed);
        }
    };
    if response.status() != reqwest::StatusCode::CREATED {
        tracing::warn!(
            url,
            status = response.status().as_u16(),
            "gateway refused the mint"
        );
        return Err(Refusal::MintFailed);
    }
    match response.json::<MintAnswer>().await {
        Ok(answer)
            if answer
                .token
                .starts_with(CredentialKind::GatewayToken.prefix()) =>
        {
            Ok(answer)
        }
        _ => {
            tracing::warn!(url, "gateway mint answer was malformed");
            Err(Refusal::MintFailed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Grant;

    fn gateway(rolled_out: bool) -> Option<Arc<WizardGateway>> {
        let mut gateway = WizardGateway::new("http://127.0.0.1:9").unwrap();
        gateway.rolled_out = rolled_out;
        Some(Arc::new(gateway))
    }

    fn live(client_id: &str, scopes: &str, has_team: bool) -> Option<Result<Authenticated, Dead>> {
        let holder = Holder {
            grant: Grant {
                client_id: Some(client_id.to_owned()),
                user_id: 1,
                team_id: 7,
                scopes: scopes.to_owned(),
                created_at: 0,
                expires_at: None,
                revoked_at: None,
                code_hash: None,
                partner_active: Some(true),
            },
            user: User::for_test(),
            teams: match has_team {
                true => vec![Team::for_test(7, "o1", false)],
                false => Vec::new(),
            },
            answers: Default::default(),
        };
        Some(auth::judge(
            CredentialKind::AccessToken,
            Some(Arc::new(holder)),
            0,
        ))
    }

    fn program(name: &str) -> ReadBody {
        ReadBody::Read(GatewayTokenRequest {
            program: Some(serde_json::Value::String(name.to_owned())),
            reads_refusal_reason: true,
        })
    }

    /// If a row fails, a token mints that the real endpoint refuses, or
    /// the refusal is another one than the real endpoint's first.
    #[test]
    fn decide_table() {
        let wizard = protocol::oauth::WIZARD_CLIENT_IDS[0];
        let scope = LLM_GATEWAY_READ;
        let cases: Vec<(Facts, Result<&str, Refusal>)> = vec![
            (
                Facts {
                    request: program("integration"),
                    gateway: None,
                    token: None,
                    team_elsewhere: false,
                },
                Err(Refusal::Unconfigured { reads_reason: true }),
            ),
            (
                Facts {
                    request: program("integration"),
                    gateway: gateway(true),
                    token: Some(Err(Dead::Missing)),
                    team_elsewhere: false,
                },
                Err(Refusal::InvalidToken("Invalid access token.".into())),
            ),
            (
                Facts {
                    request: program("integration"),
                    gateway: gateway(true),
                    token: Some(Err(Dead::Expired)),
                    team_elsewhere: false,
                },
                Err(Refusal::InvalidToken(Dead::Expired.detail().into())),
            ),
            (
                Facts {
                    request: program("integration"),
                    gateway: gateway(true),
                    token: live("partner", scope, true),
                    team_elsewhere: false,
                },
                Err(Refusal::NotWizardApp),
            ),
            (
                Facts {
                    request: program("integration"),
                    gateway: gateway(true),
                    token: live(wizard, "*", true),
                    team_elsewhere: false,
                },
                Err(Refusal::ScopeMissing),
            ),
            (
                Facts {
                    request: program("integration"),
                    gateway: gateway(true),
                    token: live(wizard, scope, false),
                    team_elsewhere: true,
                },
                Err(Refusal::Unauthorized),
            ),
            (
                Facts {
                    request: program("integration"),
                    gateway: gateway(true),
                    token: live(wizard, scope, false),
                    team_elsewhere: false,
                },
                Err(Refusal::TeamMissing),
            ),
            (
                Facts {
                    request: program("integration"),
                    gateway: gateway(false),
                    token: live(wizard, scope, true),
                    team_elsewhere: false,
                },
                Err(Refusal::NotRolledOut { reads_reason: true }),
            ),
            (
                Facts {
                    request: ReadBody::Malformed,
                    gateway: gateway(true),
                    token: live(wizard, scope, true),
                    team_elsewhere: false,
                },
                Err(Refusal::ParseError),
            ),
            (
                Facts {
                    request: program("elsewhere"),
                    gateway: gateway(true),
                    token: live(wizard, scope, true),
                    team_elsewhere: false,
                },
                Err(Refusal::ProgramUnknown { reads_reason: true }),
            ),
            (
                Facts {
                    request: program("integration"),
                    gateway: gateway(true),
                    token: live(wizard, scope, true),
                    team_elsewhere: false,
                },
                Ok("integration"),
            ),
        ];
        for (index, (facts, expected)) in cases.into_iter().enumerate() {
            let got = decide(facts).map(|mint| mint.program);
            assert_eq!(
                got.as_deref().map_err(Clone::clone),
                expected,
                "row {index}"
            );
        }
    }
}
