//! The extractors handlers share, each refusing in the envelope of the
//! family its handler answers in (axum's `customize-extractor-error`
//! pattern): the family is the type parameter `R`, any response type that
//! an [`ApiError`] converts into (`error.rs`). So a body over 64 KiB, a
//! body that is not the JSON it should be, a wrong `API-Version` or a dead
//! bearer is answered in the contract's words, never in axum's own
//! 415/422.
//!
//! Extractors run in the order of the handler's arguments, the body last:
//! a handler lists them in the order the endpoint checks.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Path, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use protocol::credential::CredentialKind;

use crate::access;
use crate::auth::{self, Authenticated};
use crate::error::{ApiError, PostHogRefusal};
use crate::http::{bearer, check_api_version, parse_form, parse_json, read_body, Verdict};
use crate::state::AppState;

/// `API-Version: 0.1d`, checked (refused in `R`).
pub struct ApiVersion<R>(PhantomData<fn() -> R>);

impl<S, R> FromRequestParts<S> for ApiVersion<R>
where
    S: Send + Sync,
    R: From<ApiError> + IntoResponse,
{
    type Rejection = R;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, R> {
        check_api_version(&parts.headers)?;
        Ok(ApiVersion(PhantomData))
    }
}

/// The body as bytes, at most 64 KiB (`413` in `R` beyond).
pub struct RawBody<R>(pub Bytes, pub PhantomData<fn() -> R>);

impl<S, R> FromRequest<S> for RawBody<R>
where
    S: Send + Sync,
    R: From<ApiError> + IntoResponse,
{
    type Rejection = R;

    async fn from_request(request: Request, _: &S) -> Result<Self, R> {
        let bytes = read_body(request.into_body()).await?;
        Ok(RawBody(bytes, PhantomData))
    }
}

/// A JSON body of at most 64 KiB, parsed leniently (`http::parse_json`:
/// unknown fields ignored, a malformed one named), refused in `R`.
pub struct JsonBody<T, R>(pub T, pub PhantomData<fn() -> R>);

impl<S, T, R> FromRequest<S> for JsonBody<T, R>
where
    S: Send + Sync,
    T: DeserializeOwned,
    R: From<ApiError> + IntoResponse,
{
    type Rejection = R;

    async fn from_request(request: Request, _: &S) -> Result<Self, R> {
        let value = read_parsed(request, parse_json).await?;
        Ok(JsonBody(value, PhantomData))
    }
}

/// `request`'s body, read within the contract's limit and parsed by
/// `parse` with the request's own headers (a `HeaderMap` extractor beside
/// the body would copy them).
async fn read_parsed<T>(
    request: Request,
    parse: fn(&axum::http::HeaderMap, &[u8]) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(body).await?;
    parse(&parts.headers, &bytes)
}

/// A form body (`application/x-www-form-urlencoded`) of at most 64 KiB
/// (`http::parse_form`), refused in `R`.
pub struct FormBody<T, R>(pub T, pub PhantomData<fn() -> R>);

impl<S, T, R> FromRequest<S> for FormBody<T, R>
where
    S: Send + Sync,
    T: DeserializeOwned,
    R: From<ApiError> + IntoResponse,
{
    type Rejection = R;

    async fn from_request(request: Request, _: &S) -> Result<Self, R> {
        let value = read_parsed(request, parse_form).await?;
        Ok(FormBody(value, PhantomData))
    }
}

/// A live access token (`pha_`) of the provisioning API, refused in `R`
/// with the provisioning API's 401 (`access::access_token`).
pub struct AccessToken<R>(pub Authenticated, pub PhantomData<fn() -> R>);

impl<R> FromRequestParts<AppState> for AccessToken<R>
where
    R: From<ApiError> + IntoResponse,
{
    type Rejection = R;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, R> {
        let token = access::access_token(state, &parts.headers).await?;
        Ok(AccessToken(token, PhantomData))
    }
}

/// The scope a PostHog API endpoint needs.
pub trait NeededScope {
    const SCOPE: &'static str;
}

/// The caller of a PostHog API endpoint: a live `pha_` or `phx_` that
/// holds the endpoint's scope `N`. Every answer, a refusal too, carries
/// the journal's verdict on the credential: a handler answers with
/// [`PostHogCaller::verdict`] beside its result.
pub struct PostHogCaller<N> {
    pub live: Authenticated,
    verdict: Verdict,
    needed: PhantomData<fn() -> N>,
}

impl<N> PostHogCaller<N> {
    /// The journal's verdict, as a part of the answer.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }
}

impl<N: NeededScope> FromRequestParts<AppState> for PostHogCaller<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let accepted = [CredentialKind::AccessToken, CredentialKind::PersonalApiKey];
        let resolved = auth::resolve(state, bearer(&parts.headers), &accepted)
            .await
            .map_err(|error| PostHogRefusal(error).into_response())?;
        let verdict = auth::verdict(&resolved);
        let refused = |error: ApiError| (verdict, PostHogRefusal(error));
        let live = resolved.map_err(|dead| refused(dead.into_error()).into_response())?;
        match live.check_scope(N::SCOPE) {
            Ok(()) => Ok(PostHogCaller {
                live,
                verdict,
                needed: PhantomData,
            }),
            Err(refusal) => Err(refused(refusal).into_response()),
        }
    }
}

/// A route's one path parameter (`{id}`, `{uuid}`), percent-decoded. axum's
/// `Path` refuses a segment that is not UTF-8 once decoded with its own
/// `text/plain` 400, outside every envelope; this one decodes such a
/// segment lossily instead, so the handler's own check refuses it in its
/// family, as it refuses any other id that names nothing (issue 14,
/// class 7).
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(Path(id)) = Path::<String>::from_request_parts(parts, state).await {
            return Ok(PathId(id));
        }
        let template = parts
            .extensions
            .get::<MatchedPath>()
            .map(|matched| matched.as_str().to_owned())
            .unwrap_or_default();
        let raw = template
            .split('/')
            .position(|segment| segment.starts_with('{'))
            .and_then(|index| parts.uri.path().split('/').nth(index))
            .unwrap_or_default();
        Ok(PathId(
            percent_encoding::percent_decode_str(raw)
                .decode_utf8_lossy()
                .into_owned(),
        ))
    }
}

/// A page's query string, read as a browser page reads it: the first
/// value of a repeated field wins, and a query that cannot be read at all
/// leaves every field at its default. axum's `Query` refuses a repeated
/// field with its own `text/plain` 400 (issue 14, class 7); a page should
/// still render, saying what it can.
pub struct PageQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequestParts<S> for PageQuery<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .unwrap_or_default()
                .into_iter()
                .filter(|(key, _)| seen.insert(key.clone()))
                .collect();
        let value = serde_urlencoded::to_string(&pairs)
            .ok()
            .and_then(|first_values| serde_urlencoded::from_str(&first_values).ok())
            .unwrap_or_default();
        Ok(PageQuery(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{PlainRefusal, ResourceRefusal};

    fn request(content_type: &str, api_version: Option<&str>, body: Vec<u8>) -> Request {
        let mut builder = Request::builder()
            .method("POST")
            .uri("/")
            .header(axum::http::header::CONTENT_TYPE, content_type);
        if let Some(version) = api_version {
            builder = builder.header(protocol::API_VERSION_HEADER, version);
        }
        builder.body(axum::body::Body::from(body)).unwrap()
    }

    async fn answer(response: Response) -> (u16, serde_json::Value) {
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// If this fails, a malformed request is answered in axum's own words
    /// (415, 422, 2 MB) or in another family's envelope than its
    /// handler's.
    #[tokio::test]
    async fn extractors_refuse_in_their_handlers_family() {
        let (parts, _) = request("application/json", Some("0.0"), Vec::new()).into_parts();
        let mut parts = parts;
        let refused = ApiVersion::<ResourceRefusal>::from_request_parts(&mut parts, &())
            .await
            .err()
            .expect("a wrong API-Version is refused");
        let (status, body) = answer(refused.into_response()).await;
        // API-Version failures always use the plain envelope (section 2).
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "invalid_api_version");

        let refused = JsonBody::<serde_json::Value, ResourceRefusal>::from_request(
            request("text/plain", None, b"{}".to_vec()),
            &(),
        )
        .await
        .err()
        .expect("a body not declared as JSON is refused");
        let (status, body) = answer(refused.into_response()).await;
        assert_eq!(status, 400);
        assert_eq!(body["status"], "error");
        assert_eq!(body["error"]["code"], "invalid_request");

        let oversized = vec![b' '; protocol::MAX_BODY_BYTES + 1];
        let refused = RawBody::<PlainRefusal>::from_request(
            request("application/json", None, oversized),
            &(),
        )
        .await
        .err()
        .expect("a body over 64 KiB is refused");
        let (status, body) = answer(refused.into_response()).await;
        assert_eq!(status, 413);
        assert_eq!(body["error"]["code"], "payload_too_large");

        let JsonBody(value, _) = JsonBody::<serde_json::Value, PlainRefusal>::from_request(
            request(
                "application/json; charset=utf-8",
                None,
                br#"{"a":1}"#.to_vec(),
            ),
            &(),
        )
        .await
        .unwrap_or_else(|_| panic!("a JSON body is read"));
        assert_eq!(value["a"], 1);
    }
}
