//! A browser's session with this server (the `posthog_session` cookie):
//! found, started, and signed in with an email and a password, through
//! the sign-in throttle. Only a session id's hash is stored; the cookie
//! carries the id.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use protocol::credential::hash_secret;
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

/// The session of the request's cookie, if it is live: its id and row.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, LoginSession)>, ApiError> {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    let Some(id) = login::session_id(Some(&cookie)) else {
        return Ok(None);
    };
    let session = state
        .db
        .session(&hash_secret(id), state.clock.now())
        .await?;
    Ok(session.map(|session| (id.to_owned(), session)))
}

/// A new session (anonymous with `None`): its id, for the cookie, and row.
pub async fn start(
    state: &AppState,
    user_id: Option<i64>,
) -> Result<(String, LoginSession), ApiError> {
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
