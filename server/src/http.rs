//! Request plumbing shared by every endpoint: body limits, lenient JSON and
//! form parsing with the contract's errors (instead of axum's 415/422), the
//! `API-Version` check, request ids and the journal.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, FutureExt as _};
use serde::de::DeserializeOwned;
use std::sync::OnceLock;

use protocol::{API_VERSION, API_VERSION_HEADER, MAX_BODY_BYTES, REQUEST_ID_HEADER};

use crate::error::{ApiError, ErrorReason};
use crate::journal::Recorded;
use crate::state::AppState;

/// The path as the caller sent it (without a trailing slash) when routing
/// replaced an alias: the journal records this one.
#[derive(Debug, Clone)]
pub struct SentPath(pub String);

/// A note a handler leaves for the journal (e.g. how a credential was
/// judged), as a part of its answer.
#[derive(Debug, Clone, Copy)]
pub struct Verdict(pub &'static str);

/// Reads the whole body, refusing more than 64 KiB. What was read is
/// noted for the live view's details (a reference, not a copy).
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let _ = READ_BODY.try_with(|read| *read.borrow_mut() = Some(bytes.clone()));
    Ok(bytes)
}

tokio::task_local! {
    /// The body the handler of the request being answered read, for the
    /// admin live view's details (`request_id` below).
    static READ_BODY: std::cell::RefCell<Option<Bytes>>;
}

/// The largest answer the live view's details buffer (ours are far
/// smaller; a bigger one is kept as it is, without details).
const MAX_WATCHED_ANSWER: usize = 16 * 1024 * 1024;

/// Parses a JSON body leniently: unknown fields are ignored; a body that is
/// not JSON, not declared as JSON, or lacks or mistypes a field is
/// `invalid_request`, naming the field.
pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    if !content_type_is(headers, "application/json") {
        return Err(ApiError::InvalidRequest(
            "Content-Type must be application/json".into(),
        ));
    }
    // RFC 8259 section 8.1: JSON is UTF-8. serde_json checks only the
    // strings it keeps, so invalid bytes in an ignored field would pass.
    if let Err(error) = std::str::from_utf8(body) {
        return Err(ApiError::InvalidRequest(format!(
            "Request body is not valid UTF-8 (at byte {})",
            error.valid_up_to()
        )));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("Request body is not valid JSON: {inner}")
            }
            _ if path == "." => format!("Invalid request body: {inner}"),
            _ => format!("Invalid field {path}: {inner}"),
        };
        ApiError::InvalidRequest(message)
    })
}

/// Parses a form body (`application/x-www-form-urlencoded`).
pub fn parse_form<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    if !content_type_is(headers, "application/x-www-form-urlencoded") {
        return Err(ApiError::InvalidRequest(
            "Content-Type must be application/x-www-form-urlencoded".into(),
        ));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|error| ApiError::InvalidRequest(format!("Invalid form body: {error}")))
}

pub fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case(expected))
}

/// `API-Version: 0.1d` on every provisioning and agentic token request.
pub fn check_api_version(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get(API_VERSION_HEADER)
        .and_then(|value| value.to_str().ok())
    {
        Some(API_VERSION) => Ok(()),
        _ => Err(ApiError::InvalidApiVersion),
    }
}

/// A JSON answer serialized before (kept with its holder, `KeptAnswers`):
/// the bytes and `Content-Type` that axum's `Json` gives.
pub struct SerializedJson(pub Bytes);

impl SerializedJson {
    /// Serializes `value` as axum's `Json` would.
    pub fn of<T: serde::Serialize>(value: &T) -> Result<SerializedJson, ApiError> {
        serde_json::to_vec(value)
            .map(|body| SerializedJson(Bytes::from(body)))
            .map_err(|error| {
                ApiError::Internal(format!("the answer cannot be serialized: {error}"))
            })
    }

    /// The answer kept in `slot`, if one is.
    pub fn kept(slot: &OnceLock<Bytes>) -> Option<SerializedJson> {
        slot.get().cloned().map(SerializedJson)
    }

    /// Serializes `value` and keeps the bytes in `slot`.
    pub fn keep<T: serde::Serialize>(
        slot: &OnceLock<Bytes>,
        value: &T,
    ) -> Result<SerializedJson, ApiError> {
        let answer = SerializedJson::of(value)?;
        let _ = slot.set(answer.0.clone());
        Ok(answer)
    }
}

impl IntoResponse for SerializedJson {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

/// An answer that must not be cached, whatever it says: token answers
/// (RFC 6749 section 5.1), refusals included.
pub struct NoStore<R>(pub R);

impl<R: IntoResponse> IntoResponse for NoStore<R> {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

/// The bearer credential of `Authorization: Bearer <x>`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
        .filter(|credential| !credential.is_empty())
}

/// What a hot route's handler returns: axum's boxed handler future.
type HandlerFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// A hot route's handler, called as the router would call it.
pub(crate) type HotHandler = fn(Request, AppState) -> HandlerFuture;

/// The answer to a request on its way: a hot route's handler, or the
/// router's.
type Routed = Either<
    futures_util::future::Map<HandlerFuture, fn(Response) -> Response>,
    futures_util::future::Map<
        axum::routing::future::RouteFuture<std::convert::Infallible>,
        fn(Result<Response, std::convert::Infallible>) -> Response,
    >,
>;

/// Sends `request` to `hot`, its hot route's handler (`crate::hot_route`),
/// or else through `router`.
fn route(
    router: &mut axum::Router,
    state: &AppState,
    request: Request,
    hot: Option<HotHandler>,
) -> Routed {
    match hot {
        Some(handler) => Either::Left(handler(request, state.clone()).map(with_content_length)),
        None => Either::Right(
            tower::Service::call(router, request).map(|answer| match answer {
                Ok(response) => response,
                Err(never) => match never {},
            }),
        ),
    }
}

/// `response` with the `Content-Length` its body's exact size gives, as
/// the router's route sets it.
fn with_content_length(mut response: Response) -> Response {
    let size = axum::body::HttpBody::size_hint(response.body()).exact();
    if let Some(size) = size {
        response
            .headers_mut()
            .entry(axum::http::header::CONTENT_LENGTH)
            .or_insert_with(|| size.into());
    }
    response
}

/// Gives every request an id (the caller's, if it sent a usable one),
/// echoes it on the answer, and writes the journal entry around
/// `router`'s answer, or `hot`'s (a hot route's handler, called without
/// the router). A plain function that [`App`] calls, not an axum
/// middleware: `from_fn` boxed and cloned the inner service on every
/// request.
///
/// [`App`]: crate::App
pub fn request_id(
    state: AppState,
    request: Request,
    router: &mut axum::Router,
    hot: Option<HotHandler>,
) -> impl std::future::Future<Output = Response> + Send {
    let id = request_id_of(&state, request.headers());
    let method = request.method().clone();
    let sent = match request.extensions().get::<SentPath>() {
        Some(sent) => sent.0.as_str(),
        None => request.uri().path(),
    };
    // Every log line of the request carries its id (and never a full
    // credential: the id was taken only if it holds none, the path is
    // redacted, prefixless secrets by their shape, the query is not logged).
    let path = protocol::credential::redact_secret_shaped(sent);
    let credential = bearer(request.headers()).map(protocol::credential::mask);
    let at = state.clock.now();
    let shown_id = id.to_str().unwrap_or_default();
    let span = tracing::info_span!("request", id = %shown_id, method = %method, path = %path);
    let started = (!span.is_disabled()).then(std::time::Instant::now);
    // Only while someone watches the live view, and never for its own
    // requests: the request's headers now, its body as the handler reads
    // it, the answer once it is complete.
    let watched = state.live_view.watched() && !path.starts_with("/_admin/");
    let request_headers = watched.then(|| request.headers().clone());
    let routed = route(router, &state, request, hot);
    async move {
        // Each wrapper moves the handler's future once more: the span's
        // only when it is enabled (RUST_LOG=info and finer), the body's
        // only while someone watches; both are boxed, so the future of
        // every other request stays small.
        let answered = NOTED.scope(Noted::default(), async {
            let response = match span.is_disabled() {
                true => routed.await,
                false => Box::pin(tracing::Instrument::instrument(routed, span.clone())).await,
            };
            (response, NOTED.with(Noted::take))
        });
        let ((mut response, noted), request_body) = match watched {
            true => {
                Box::pin(READ_BODY.scope(std::cell::RefCell::new(None), async {
                    let answered = answered.await;
                    (answered, READ_BODY.with(|read| read.borrow_mut().take()))
                }))
                .await
            }
            false => (answered.await, None),
        };
        if let Some(headroom) = noted.headroom {
            for (name, value) in [
                ("ratelimit-limit", headroom.limit),
                ("ratelimit-remaining", headroom.remaining),
                ("ratelimit-reset", headroom.reset),
            ] {
                response
                    .headers_mut()
                    .insert(name, HeaderValue::from(value));
            }
        }
        if let Some(started) = started {
            span.in_scope(|| {
                tracing::info!(
                    status = response.status().as_u16(),
                    latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                    credential = %credential.as_deref().unwrap_or("-"),
                    "request finished"
                );
            });
        }
        response.headers_mut().insert(
            header::HeaderName::from_static(REQUEST_ID_HEADER),
            id.clone(),
        );
        if let Some(request_headers) = request_headers {
            let id = id.to_str().unwrap_or_default();
            response = Box::pin(keep_details(
                &state,
                id,
                &request_headers,
                request_body,
                response,
            ))
            .await;
        }
        if !path.starts_with("/_admin/") {
            state.journal.record(Recorded {
                at,
                request_id: id,
                method,
                path,
                status: response.status().as_u16(),
                credential,
                verdict: noted.verdict,
                reason: response
                    .extensions()
                    .get::<ErrorReason>()
                    .map(|reason| reason.0),
            });
        }
        response
    }
}

/// The id of a request: the caller's `x-request-id` if
/// `protocol::request_id::accept` takes it (the header's own bytes when
/// it needs no trimming), else a new UUID. Either is visible ASCII.
fn request_id_of(state: &AppState, headers: &HeaderMap) -> HeaderValue {
    let sent = headers.get(REQUEST_ID_HEADER);
    let accepted = sent
        .and_then(|value| value.to_str().ok())
        .and_then(protocol::request_id::accept);
    match (sent, accepted) {
        (Some(sent), Some(id)) if id.len() == sent.len() => sent.clone(),
        (_, Some(id)) => HeaderValue::from_str(id).expect("an accepted id is visible ASCII"),
        (_, None) => {
            HeaderValue::try_from(state.random.request_uuid()).expect("a UUID is visible ASCII")
        }
    }
}

tokio::task_local! {
    /// What the handler of the request being answered noted for
    /// [`request_id`]: set through [`Verdict`] and the rate limits.
    static NOTED: Noted;
}

/// What a handler notes for the answer's headers and journal entry.
#[derive(Debug, Default)]
struct Noted {
    headroom: std::cell::Cell<Option<crate::rate_limit::Headroom>>,
    verdict: std::cell::Cell<Option<&'static str>>,
}

impl Noted {
    fn take(&self) -> Taken {
        Taken {
            headroom: self.headroom.take(),
            verdict: self.verdict.take(),
        }
    }
}

struct Taken {
    headroom: Option<crate::rate_limit::Headroom>,
    verdict: Option<&'static str>,
}

/// Notes the rate limit's headroom for the `RateLimit-*` headers of the
/// answer (outside a request, as in unit tests, it is dropped).
pub fn note_headroom(headroom: crate::rate_limit::Headroom) {
    let _ = NOTED.try_with(|noted| noted.headroom.set(Some(headroom)));
}

impl axum::response::IntoResponseParts for Verdict {
    type Error = std::convert::Infallible;

    /// Notes the verdict for the journal entry; the answer is unchanged.
    fn into_response_parts(
        self,
        parts: axum::response::ResponseParts,
    ) -> Result<axum::response::ResponseParts, Self::Error> {
        let _ = NOTED.try_with(|noted| noted.verdict.set(Some(self.0)));
        Ok(parts)
    }
}

/// Keeps the masked headers and bodies of one exchange for the live view,
/// and hands back the answer, its body buffered.
async fn keep_details(
    state: &AppState,
    id: &str,
    request_headers: &HeaderMap,
    request_body: Option<Bytes>,
    response: Response,
) -> Response {
    use protocol::admin::ExchangeDetail;
    use protocol::masking;
    let lines = |headers: &HeaderMap| {
        masking::header_lines(
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        )
    };
    let content_type = |headers: &HeaderMap| {
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_WATCHED_ANSWER).await else {
        return crate::error::PlainRefusal(ApiError::Internal(
            "the answer could not be read".into(),
        ))
        .into_response();
    };
    state.live_view.keep(ExchangeDetail {
        request_id: id.to_owned(),
        request_headers: lines(request_headers),
        request_body: request_body
            .map(|body| masking::body(content_type(request_headers).as_deref(), &body))
            .unwrap_or_default(),
        response_headers: lines(&parts.headers),
        response_body: masking::body(content_type(&parts.headers).as_deref(), &bytes),
    });
    Response::from_parts(parts, Body::from(bytes))
}
