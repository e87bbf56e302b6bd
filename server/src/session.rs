//! A browser's session with this server (the `posthog_session` cookie):
//! found, started when a person signs in, and the password check behind
//! every sign-in form. Only a session id's hash is stored; the cookie
//! carries the id. A browser that is not signed in has no row at all: its
//! sign-in form is guarded by the anonymous form cookie instead (see
//! [`Visitor`]).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use protocol::credential::{constant_time_eq, hash_secret};
use protocol::email::Email;

use crate::db::login::{LoginSession, NewSession};
use crate::db::User;
use crate::error::ApiError;
use crate::login;
use crate::sign_in_throttle::{Attempt, Locked};
use crate::state::AppState;

/// The address a request came from: the TCP peer (`ConnectInfo`, which
/// `protocol::serve` attaches to every request), never a header such as
/// `X-Forwarded-For` that the client writes itself. A request without a
/// peer (only the tests' in-process router sends one) counts as
/// `0.0.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        Ok(ClientAddress(
            peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

/// Who sends a form, and the CSRF token its page must have carried.
#[derive(Debug, Clone)]
pub enum Visitor {
    /// A browser with a live session: its forms carry the session's token.
    Session { id: String, session: LoginSession },
    /// A browser without one: its sign-in form carries the token of its
    /// anonymous form cookie's nonce (`None`: no such cookie, so no form
    /// of it can match).
    Anonymous { form_token: Option<String> },
}

impl Visitor {
    /// The CSRF token this visitor's pages carry.
    pub fn csrf_token(&self) -> Option<&str> {
        match self {
            Visitor::Session { session, .. } => Some(&session.csrf_token),
            Visitor::Anonymous { form_token } => form_token.as_deref(),
        }
    }

    /// Whether a form's `csrf_token` is this visitor's (in constant time).
    pub fn sent(&self, csrf_token: Option<&str>) -> bool {
        match (self.csrf_token(), csrf_token) {
            (Some(expected), Some(sent)) => constant_time_eq(sent, expected),
            _ => false,
        }
    }

    /// The signed-in user, if any.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Visitor::Session { session, .. } => Some(session.user_id),
            Visitor::Anonymous { .. } => None,
        }
    }
}

/// The visitor of a request's cookies.
pub async fn visitor(state: &AppState, headers: &HeaderMap) -> Result<Visitor, ApiError> {
    Ok(match current(state, headers).await? {
        Some((id, session)) => Visitor::Session { id, session },
        None => Visitor::Anonymous {
            form_token: login::form_nonce(Some(&cookie_header(headers)))
                .map(|nonce| state.form_key.token(nonce)),
        },
    })
}

/// The sign-in form of a browser that is not signed in: the CSRF token
/// its page carries, and the cookie to set when the browser has no nonce
/// yet. Nothing is stored.
#[derive(Debug, Clone)]
pub struct AnonymousForm {
    pub csrf_token: String,
    new_nonce: Option<String>,
}

impl AnonymousForm {
    /// Sets the anonymous form cookie on `response` if the browser had
    /// none.
    pub fn set_cookie(&self, response: &mut Response) {
        let Some(nonce) = &self.new_nonce else {
            return;
        };
        if let Ok(value) = HeaderValue::from_str(&login::form_cookie(nonce)) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

/// The anonymous sign-in form for this request's browser: the nonce it
/// already holds, or a new one.
pub fn anonymous_form(state: &AppState, headers: &HeaderMap) -> AnonymousForm {
    let held = login::form_nonce(Some(&cookie_header(headers))).map(str::to_owned);
    let (nonce, new_nonce) = match held {
        Some(nonce) => (nonce, None),
        None => {
            let nonce = login::random_token(state.random.as_ref());
            (nonce.clone(), Some(nonce))
        }
    };
    AnonymousForm {
        csrf_token: state.form_key.token(&nonce),
        new_nonce,
    }
}

/// The session of the request's cookie, if it is live and signed in: its
/// id and row.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, LoginSession)>, ApiError> {
    let cookie = cookie_header(headers);
    let Some(id) = login::session_id(Some(&cookie)) else {
        return Ok(None);
    };
    let session = state
        .db
        .session(&hash_secret(id), state.clock.now())
        .await?;
    Ok(session.map(|session| (id.to_owned(), session)))
}

/// Every `Cookie` header of the request, as one.
fn cookie_header(headers: &HeaderMap) -> String {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A new session of a user who has just signed in: its id, for the
/// cookie, and row. The session a visitor held before (if any) should be
/// ended first, so an id planted before sign-in is worthless after it.
pub async fn start(state: &AppState, user_id: i64) -> Result<(String, LoginSession), ApiError> {
    let id = login::random_token(state.random.as_ref());
    let csrf_token = login::random_token(state.random.as_ref());
    let now = state.clock.now();
    let expires_at = now + login::SESSION_SECONDS;
    state
        .db
        .insert_session(&NewSession {
            id_hash: hash_secret(&id),
            user_id,
            csrf_token: csrf_token.clone(),
            now,
            expires_at,
        })
        .await?;
    Ok((
        id,
        LoginSession {
            user_id,
            csrf_token,
            expires_at,
        },
    ))
}

/// What a password check decided.
#[derive(Debug)]
pub enum SignIn {
    /// The right password.
    Accepted(User),
    /// A wrong password, an unknown email, or a user without a password:
    /// one answer for all three.
    Refused,
    /// Too many failures from this address or for this account
    /// (`sign_in_throttle.rs`): refused whatever the password, for
    /// `retry_after_seconds`.
    Locked(Locked),
}

/// The answer to a locked-out sign-in: `429 Too Many Requests` with
/// `Retry-After` (whole seconds until the lockout ends) and `page`, the
/// sign-in form again saying why. The real server answers its JSON login
/// with `403 too_many_failed_attempts` (BEYOND.md).
pub fn locked_out(page: String, locked: Locked) -> Response {
    let mut response = crate::browser::html(StatusCode::TOO_MANY_REQUESTS, page);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(locked.retry_after_seconds),
    );
    response
}

/// Checks `email` and `password` from `client`, through the sign-in
/// throttle: a locked address or account is refused before any database
/// read or Argon2 work. An unknown email or a user without a password
/// costs the same Argon2 work as a wrong password, so timing does not tell
/// which emails exist.
pub async fn check_password(
    state: &AppState,
    client: IpAddr,
    email: &str,
    password: &str,
) -> Result<SignIn, ApiError> {
    let attempt = Attempt::new(client, email);
    let now = state.clock.now();
    if let Err(locked) = state.sign_in_throttle.admit(&attempt, now) {
        return Ok(SignIn::Locked(locked));
    }
    let user = match verify(state, email, password).await {
        Ok(user) => user,
        Err(error) => {
            state.sign_in_throttle.withdrawn(&attempt);
            return Err(error);
        }
    };
    Ok(match user {
        Some(user) => {
            state.sign_in_throttle.succeeded(&attempt);
            SignIn::Accepted(user)
        }
        None => match state.sign_in_throttle.failed(&attempt, now) {
            Some(locked) => SignIn::Locked(locked),
            None => SignIn::Refused,
        },
    })
}

/// The user with this email (canonical form) and password, if the
/// password is right.
async fn verify(state: &AppState, email: &str, password: &str) -> Result<Option<User>, ApiError> {
    // An address with no canonical form names nobody; it costs the same
    // work as an unknown one.
    let email = Email::parse(email).map_or_else(|_| String::new(), Email::into_string);
    let user = state.db.user_with_password(&email).await?;
    let verified = match &user {
        Some((_, Some(stored))) => crate::password::verify(password, stored),
        _ => {
            let _ = crate::password::verify(password, dummy_hash());
            false
        }
    };
    Ok(match (user, verified) {
        (Some((user, _)), true) => Some(user),
        _ => None,
    })
}

/// A valid hash no password matches by chance, for equal timing.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        crate::password::hash("not a password anyone has", &protocol::random::OsRandom)
    })
}
