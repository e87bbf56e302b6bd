//! A browser's session with this server (the `posthog_session` cookie):
//! found, started, and signed in with an email and a password. Only a
//! session id's hash is stored; the cookie carries the id.

use axum::http::{header, HeaderMap};

use protocol::credential::hash_secret;
use protocol::email::Email;

use crate::db::login::{LoginSession, NewSession};
use crate::db::User;
use crate::error::ApiError;
use crate::login;
use crate::state::AppState;

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

/// The user with this email (trimmed, any case) and password, if the
/// password is right. An unknown email or a user without a password costs
/// the same Argon2 work, so timing does not tell which emails exist.
pub async fn check_password(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<Option<User>, ApiError> {
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
