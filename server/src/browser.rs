//! Answers to a browser: HTML pages, redirects, the session cookie, and
//! forms read with a page (not a JSON envelope) as their refusal. Shared
//! by the interactive login, today's consent and the app's sign-in page.
//! Every page and redirect is `Cache-Control: no-store`, and no page may be
//! framed by another site.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::login;
use crate::login_html;

/// An HTML page.
pub fn html(status: StatusCode, page: String) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response();
    no_store(&mut response);
    // The consent page must not be framed by another site (clickjacking).
    response
        .headers_mut()
        .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The error page saying `message`.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    html(status, login_html::error_page(message))
}

/// A redirect to `location`.
pub fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(&mut response);
    response
}

/// Sets the session cookie of session `id` for `max_age` seconds.
pub fn set_cookie(response: &mut Response, id: &str, max_age: i64) {
    if let Ok(value) = HeaderValue::from_str(&login::session_cookie(id, max_age)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A failure of the server itself, answered to a browser as a page (its
/// detail is logged only): what a page handler's `?` makes of an
/// [`ApiError`].
#[derive(Debug)]
pub struct PageFailure(pub ApiError);

impl IntoResponse for PageFailure {
    fn into_response(self) -> Response {
        let error = self.0;
        tracing::error!(%error, detail = ?error, "interactive login failed");
        error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Try again.",
        )
    }
}

impl From<ApiError> for PageFailure {
    fn from(error: ApiError) -> PageFailure {
        PageFailure(error)
    }
}

impl From<sqlx::Error> for PageFailure {
    fn from(error: sqlx::Error) -> PageFailure {
        PageFailure(error.into())
    }
}

/// A browser form's bytes, or the page that refuses it: `413` over 64 KiB,
/// `400` when it was not sent as a form.
pub struct FormBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for FormBytes {
    type Rejection = Response;

    async fn from_request(request: Request, _: &S) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        form_bytes(&parts.headers, body).await.map(FormBytes)
    }
}

async fn form_bytes(headers: &HeaderMap, body: axum::body::Body) -> Result<Bytes, Response> {
    let Ok(bytes) = crate::http::read_body(body).await else {
        return Err(error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The form is too large.",
        ));
    };
    if !crate::http::content_type_is(headers, "application/x-www-form-urlencoded") {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "The form was not sent as a form.",
        ));
    }
    Ok(bytes)
}

/// A browser form read into `T`, or the page that refuses it
/// ([`FormBytes`], and `400` when its fields do not parse).
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let FormBytes(bytes) = FormBytes::from_request(request, state).await?;
        parse_form(&bytes)
            .map(Form)
            .map_err(IntoResponse::into_response)
    }
}

/// A form whose fields do not parse: answered with the `400` page.
#[derive(Debug)]
pub struct MalformedForm;

impl IntoResponse for MalformedForm {
    fn into_response(self) -> Response {
        error_page(StatusCode::BAD_REQUEST, "The form is malformed.")
    }
}

/// Form fields read from `bytes`.
pub fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MalformedForm> {
    serde_urlencoded::from_bytes(bytes).map_err(|_| MalformedForm)
}
