//! `POST /api/agentic/provisioning/limits` (protocol section 3): a partner
//! reads its own tier and the budget of every endpoint metered per
//! partner, in eras that serve it (`[rate_limits] limits_endpoint`).
//!
//! The newest real view (`ee/api/agentic_provisioning/views/limits.py`) is
//! served: POST only, and the caller must prove it is the partner. A
//! public partner does that with a bearer it got from a token exchange;
//! its `client_id` alone, which anyone can send, is refused, and so is a
//! GET (an earlier revision answered a GET naming a public `client_id`).
//! Refusals use the account requests' typed envelope without `id`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::credential::CredentialKind;
use protocol::provisioning::{LimitsAnswer, LimitsRequest, TierBasis};

use crate::auth::{self, Dead};
use crate::db::Application;
use crate::error::{AccountRequestRefusal, ApiError, PlainRefusal, PostHogRefusal};
use crate::http::{bearer, content_type_is, parse_form, parse_json, read_body};
use crate::partner;
use crate::rate_limit;
use crate::state::AppState;

/// The real server's answer to a `client_id` it does not know, or to no
/// identification at all: where to register.
pub const NOT_REGISTERED: &str = "No provisioning client is registered for this client_id. Register it at POST /api/agentic/provisioning/client_registration";

/// Tells the calling partner its tier and budgets.
#[utoipa::path(
    post,
    path = "/api/agentic/provisioning/limits",
    tag = "provisioning",
    params(("client_id" = Option<String>, Query, description = "Names a partner; proves nothing (a public partner is refused without its bearer)")),
    request_body(content = protocol::provisioning::LimitsRequest, content_type = "application/x-www-form-urlencoded", description = "Optional; `client_id` may also be sent as JSON or in the query"),
    responses(
        (status = 200, description = "The partner's tier and each endpoint's budget: blocked, unlimited, or a bucket with what is left of it", body = protocol::provisioning::LimitsAnswer),
        (status = 401, description = "unauthorized: a missing, invalid or expired bearer, a bearer of no partner or of a deactivated one, no identified partner, or a partner identified only by its client_id", body = protocol::error::AccountRequestError),
        (status = 404, description = "The era has no limits endpoint", body = protocol::error::PlainError),
    ),
    security((), ("bearer" = []))
)]
pub async fn handle(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !state.policy.rate_limits.limits_endpoint {
        return unrouted(&uri);
    }
    limits(&state, &uri, &headers, body)
        .await
        .map(Json)
        .map_err(AccountRequestRefusal::from)
        .into_response()
}

/// The calling partner's tier and budgets.
async fn limits(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<LimitsAnswer, ApiError> {
    let partner = identify(state, uri, headers, body).await?;
    let endpoints = rate_limit::describe(state, &partner).await?;
    let (tier, client_authentication) = tier_of(&partner);
    Ok(LimitsAnswer {
        tier: tier.into(),
        tier_basis: TierBasis {
            client_authentication: client_authentication.into(),
            attested: false,
        },
        endpoints,
    })
}

/// Any other method on the limits: the newest real view serves POST only
/// (a GET has nowhere to carry client authentication), so it is `405
/// method_not_allowed` with `Allow: POST` (never the methods axum would
/// list), in PostHog's error envelope. Not in the OpenAPI document, which
/// lists what is served.
pub async fn refuse_method(
    State(state): State<AppState>,
    method: axum::http::Method,
    uri: Uri,
) -> Response {
    if !state.policy.rate_limits.limits_endpoint {
        return unrouted(&uri);
    }
    PostHogRefusal(ApiError::MethodNotAllowed {
        method: method.to_string(),
        allow: "POST",
    })
    .into_response()
}

/// What an era without the endpoint answers: the router's own 404.
fn unrouted(uri: &Uri) -> Response {
    PlainRefusal(ApiError::NotFound(format!("No route for {}", uri.path()))).into_response()
}

/// The partner that proved itself, in the real view's order: a bearer
/// (when `Authorization` names one) must be live and a live partner's;
/// otherwise a `client_id` must name a partner that is not public. Client
/// secrets and signed assertions are not modelled, so no partner proves
/// itself without a bearer.
async fn identify(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Application, ApiError> {
    if names_a_bearer(headers) {
        return bearer_partner(state, headers).await;
    }
    let bytes = read_body(body).await?;
    let client_id = client_id_of(uri, headers, &bytes);
    let partner = match client_id {
        Some(client_id) => state.db.application(&client_id).await?,
        None => None,
    }
    .filter(|partner| partner.kind == "partner" && partner.active)
    .ok_or_else(|| ApiError::Unauthorized(NOT_REGISTERED.into()))?;
    Err(ApiError::Unauthorized(match partner.auth_method.as_str() {
        "pkce" => "This client must authenticate with a bearer token".into(),
        _ => "This client must authenticate".into(),
    }))
}

/// Whether the request takes the bearer path: `Authorization` starts with
/// `Bearer ` (as the real view tests it, even with nothing after it).
fn names_a_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("Bearer "))
}

async fn bearer_partner(state: &AppState, headers: &HeaderMap) -> Result<Application, ApiError> {
    let token = match auth::resolve(state, bearer(headers), &[CredentialKind::AccessToken]).await? {
        Ok(token) => token,
        Err(dead) => {
            return Err(ApiError::Unauthorized(
                match dead {
                    Dead::Missing => "Missing bearer token",
                    Dead::Expired => "Access token expired",
                    Dead::PartnerDeactivated => "Partner is deactivated",
                    Dead::Unknown | Dead::Revoked => "Invalid access token",
                }
                .into(),
            ))
        }
    };
    match partner::of_token(state, &token).await? {
        Some(partner) if partner.kind == "partner" && partner.active => Ok(partner),
        Some(partner) if partner.kind == "partner" => {
            Err(ApiError::Unauthorized("Partner is deactivated".into()))
        }
        _ => Err(ApiError::Unauthorized("Authentication failed".into())),
    }
}

/// The `client_id` of the body (form or JSON), else of the query. A body
/// that does not parse names nobody.
fn client_id_of(uri: &Uri, headers: &HeaderMap, bytes: &[u8]) -> Option<String> {
    let from_body: Option<LimitsRequest> = match () {
        _ if content_type_is(headers, "application/json") => parse_json(headers, bytes).ok(),
        _ if content_type_is(headers, "application/x-www-form-urlencoded") => {
            parse_form(headers, bytes).ok()
        }
        _ => None,
    };
    let from_query = || -> Option<String> {
        serde_urlencoded::from_str::<LimitsRequest>(uri.query()?)
            .ok()?
            .client_id
    };
    from_body
        .and_then(|request| request.client_id)
        .filter(|client_id| !client_id.is_empty())
        .or_else(from_query)
        .filter(|client_id| !client_id.is_empty())
}

/// A partner's tier and how it proves itself, by the real server's rule:
/// a partner that authenticates as a client is of the `jwks` tiers, one
/// identified by its `client_id` of the `public` ones; attestation (a
/// verified organization) is not modelled. A PKCE partner is `public`,
/// with `none`; an hmac partner proves itself with its signing secret, so
/// it is `jwks`, with `hmac` (our choice: BEYOND.md).
pub fn tier_of(partner: &Application) -> (&'static str, &'static str) {
    match partner.auth_method.as_str() {
        "pkce" => ("public", "none"),
        _ => ("jwks", "hmac"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_id_comes_from_the_body_then_the_query() {
        fn check(
            query: Option<&str>,
            content_type: Option<&str>,
            body: &str,
            expected: Option<&str>,
        ) {
            let uri: Uri = match query {
                Some(query) => format!("/api/agentic/provisioning/limits?{query}"),
                None => "/api/agentic/provisioning/limits".into(),
            }
            .parse()
            .unwrap();
            let mut headers = HeaderMap::new();
            if let Some(content_type) = content_type {
                headers.insert(
                    axum::http::header::CONTENT_TYPE,
                    content_type.parse().unwrap(),
                );
            }
            let got = client_id_of(&uri, &headers, body.as_bytes());
            assert_eq!(
                got.as_deref(),
                expected,
                "{query:?} {content_type:?} {body}"
            );
        }
        const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
        const JSON: Option<&str> = Some("application/json");
        check(None, None, "", None);
        check(Some("client_id=a"), None, "", Some("a"));
        check(None, FORM, "client_id=b", Some("b"));
        check(None, JSON, r#"{"client_id":"c"}"#, Some("c"));
        check(Some("client_id=a"), FORM, "client_id=b", Some("b"));
        check(Some("client_id=a"), FORM, "client_id=", Some("a"));
        check(Some("client_id="), None, "", None);
        check(None, JSON, "not json", None);
        check(Some("client_id=a"), JSON, "not json", Some("a"));
    }

    #[test]
    fn the_bearer_path_is_taken_whenever_authorization_names_bearer() {
        fn check(authorization: Option<&str>, expected: bool) {
            let mut headers = HeaderMap::new();
            if let Some(value) = authorization {
                headers.insert(axum::http::header::AUTHORIZATION, value.parse().unwrap());
            }
            assert_eq!(names_a_bearer(&headers), expected, "{authorization:?}");
        }
        check(None, false);
        check(Some("Bearer pha_x"), true);
        check(Some("Bearer "), true);
        check(Some("Bearer"), false);
        check(Some("bearer pha_x"), false);
        check(Some("Basic eDp5"), false);
    }
}
