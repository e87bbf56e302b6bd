//! The rules of the interactive login (protocol section 6), as plain
//! functions over plain data: which redirect URI is registered, what an
//! authorize request may ask, how the session cookie reads and is written,
//! and where the browser is sent back. Which scopes are granted is the
//! era's rule (`ScopePolicy::granted_scopes`).
//!
//! The handlers are `routes/authorize.rs` (`GET /oauth/authorize`: validate,
//! then the sign-in form, the consent form, or straight back with a code),
//! `routes/authorize_submit.rs` (`POST /oauth/authorize`: both forms) and
//! `routes/oauth_token.rs` (`POST /oauth/token`); what they share with
//! I/O is `authorization.rs` and `session.rs`. The pages are in
//! `login_html.rs`.

use protocol::pkce::CodeChallenge;
use protocol::random::RandomSource;

use crate::db::{Application, AuthMethod};
use crate::policy::ScopePolicy;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "posthog_session";
/// How long a browser session lives (seconds, on the server's clock).
pub const SESSION_SECONDS: i64 = 14 * 24 * 3600;

pub use protocol::oauth::AuthorizeParams;

/// The anonymous form cookie's name: a browser that is not signed in
/// carries a random nonce here, and its sign-in form the nonce's
/// [`FormKey::token`] (a signed double-submit token; no row is stored).
pub const FORM_COOKIE: &str = "posthog_form";
/// How long the anonymous form cookie lives (seconds): a sign-in page left
/// open longer says the form has expired.
pub const FORM_COOKIE_SECONDS: i64 = 24 * 3600;

/// What a refused sign-in says (the same for an unknown email).
pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";
/// What a form without this browser's session or CSRF token gets.
pub const STALE_FORM: &str =
    "This form has expired or was not sent from this page. Open the sign-in link again.";

/// 32 bytes of the injected randomness, URL-safe: session ids, CSRF
/// tokens, codes and consent states.
pub fn random_token(random: &dyn RandomSource) -> String {
    let bytes = random.bytes(32);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

/// The server's secret for the anonymous forms' CSRF tokens, drawn from
/// the injected randomness at start. A restart draws another, so a form
/// shown before it is refused as expired.
pub struct FormKey([u8; 32]);

impl FormKey {
    pub fn draw(random: &dyn RandomSource) -> FormKey {
        let mut key = [0u8; 32];
        random.fill(&mut key);
        FormKey(key)
    }

    /// The CSRF token of the sign-in form of a browser whose
    /// [`FORM_COOKIE`] holds `nonce`: HMAC-SHA256 of the nonce under the
    /// key, URL-safe. Only this server can compute it, and only for the
    /// nonce that browser holds.
    pub fn token(&self, nonce: &str) -> String {
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0)
            .expect("HMAC accepts any key length");
        mac.update(b"posthog sign-in form\0");
        mac.update(nonce.as_bytes());
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            mac.finalize().into_bytes(),
        )
    }
}

impl std::fmt::Debug for FormKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormKey(***)")
    }
}

/// The query string of `GET /oauth/authorize` for these parameters.
pub fn authorize_query(params: &AuthorizeParams) -> String {
    serde_urlencoded::to_string(params).unwrap_or_default()
}

/// Where the browser goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnTo {
    /// A registered redirect URI (for the wizard: its loopback listener).
    Redirect(String),
    /// No `redirect_uri` was given (the `requires_auth` URL as the server
    /// answers it): the code is shown on a page for the person to paste.
    Paste,
}

/// An authorize request that passed every check.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub application: Application,
    pub return_to: ReturnTo,
    pub challenge: CodeChallenge,
    /// Requested ∩ the application's ceiling, in the order requested.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub params: AuthorizeParams,
}

impl Authorization {
    pub fn redirect_uri(&self) -> Option<&str> {
        match &self.return_to {
            ReturnTo::Redirect(uri) => Some(uri),
            ReturnTo::Paste => None,
        }
    }
}

/// Why an authorize request is refused, and how (RFC 6749 section
/// 4.1.2.1): a bad client or redirect URI is shown as a page and never
/// redirected to; anything else goes back to the redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A `400` page.
    Page { message: String },
    /// `redirect_uri?error=…&error_description=…&state=…`.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

/// Checks an authorize request: client, redirect URI, response type, PKCE
/// challenge, scopes, in the order RFC 6749 section 4.1.2.1 needs.
/// `application` is the one `client_id` names, if any; `registered`, its
/// registered redirect URIs.
pub fn check_authorize(
    policy: &ScopePolicy,
    params: &AuthorizeParams,
    application: Option<Application>,
    registered: &[String],
) -> Result<Authorization, Refusal> {
    let page = |message: &str| {
        Err(Refusal::Page {
            message: message.into(),
        })
    };
    if params.client_id.as_deref().is_none_or(str::is_empty) {
        return page("The link is missing its client_id.");
    }
    let application = match application {
        Some(application)
            if application.kind == "partner" && application.auth_method == AuthMethod::Pkce =>
        {
            application
        }
        _ => return page("This application is not known to PostHog."),
    };
    if !application.active {
        return page("This application has been deactivated.");
    }
    let return_to = match params.redirect_uri.as_deref() {
        None => ReturnTo::Paste,
        Some(uri) if !redirect_uri_matches(registered, uri) => {
            return page("The redirect_uri is not registered for this application.")
        }
        Some(uri) => ReturnTo::Redirect(uri.to_owned()),
    };
    let redirect = |error: &'static str, description: &str| match &return_to {
        ReturnTo::Redirect(uri) => Err(Refusal::Redirect {
            redirect_uri: uri.clone(),
            error,
            description: description.into(),
            state: params.state.clone(),
        }),
        ReturnTo::Paste => Err(Refusal::Page {
            message: format!("{error}: {description}"),
        }),
    };
    if params.response_type.as_deref() != Some("code") {
        return redirect("unsupported_response_type", "response_type must be code");
    }
    let Some(challenge) = params.code_challenge.as_deref() else {
        return redirect("invalid_request", "code_challenge is required (S256)");
    };
    let challenge = match CodeChallenge::parse(challenge, params.code_challenge_method.as_deref()) {
        Ok(challenge) => challenge,
        Err(error) => return redirect("invalid_request", &error.to_string()),
    };
    let scopes = policy.granted_scopes(
        params.scope.as_deref().unwrap_or(""),
        &policy.ceiling(&application),
    );
    if scopes.is_empty() {
        return redirect(
            "invalid_scope",
            "None of the requested scopes is available to this application",
        );
    }
    Ok(Authorization {
        application,
        return_to,
        challenge,
        scopes,
        state: params.state.clone(),
        params: params.clone(),
    })
}

/// Whether `uri` is one of `registered`. A registered loopback URI has no
/// port and matches the same URI on any port (RFC 8252 section 7.3); every
/// other URI must match exactly.
pub fn redirect_uri_matches(registered: &[String], uri: &str) -> bool {
    if registered.iter().any(|candidate| candidate == uri) {
        return true;
    }
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    let port_ok = match port {
        None => true,
        Some(port) => {
            !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|port| port > 0)
        }
    };
    if !loopback || !port_ok {
        return false;
    }
    let without_port = format!("http://{host}{path}");
    registered.contains(&without_port)
}

/// The session id of a `Cookie` header, if it has one.
pub fn session_id(cookie_header: Option<&str>) -> Option<&str> {
    cookie(cookie_header, SESSION_COOKIE)
}

/// The anonymous form nonce of a `Cookie` header, if it has one shaped
/// like those [`random_token`] draws (43 URL-safe characters).
pub fn form_nonce(cookie_header: Option<&str>) -> Option<&str> {
    cookie(cookie_header, FORM_COOKIE).filter(|nonce| {
        nonce.len() == 43
            && nonce
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    })
}

fn cookie<'a>(cookie_header: Option<&'a str>, wanted: &str) -> Option<&'a str> {
    cookie_header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The `Set-Cookie` value for a session id: HttpOnly, SameSite=Lax, on
/// the whole site, for the session's life.
pub fn session_cookie(id: &str, max_age: i64) -> String {
    format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}")
}

/// The `Set-Cookie` value for an anonymous form nonce: HttpOnly and
/// SameSite=Lax like the session's, so another site's page can neither
/// read it nor have it sent with a form it posts.
pub fn form_cookie(nonce: &str) -> String {
    format!("{FORM_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Lax; Max-Age={FORM_COOKIE_SECONDS}")
}

/// `redirect_uri` with `pairs` added to its query.
pub fn callback_url(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_table() {
        let registered = vec![
            "http://localhost/callback".to_owned(),
            "http://127.0.0.1/callback".to_owned(),
        ];
        let cases = [
            ("http://localhost:8239/callback", true),
            ("http://127.0.0.1:1/callback", true),
            ("http://127.0.0.1:65535/callback", true),
            ("http://localhost/callback", true),
            ("http://localhost:8239/callback/", false),
            ("http://localhost:8239/other", false),
            ("http://localhost:0/callback", false),
            ("http://localhost:65536/callback", false),
            ("http://localhost:/callback", false),
            ("http://localhost:80a/callback", false),
            ("https://localhost:8239/callback", false),
            ("http://evil.example/callback", false),
            ("http://evil.example:8239/callback", false),
            ("http://localhost.evil.example:8239/callback", false),
            ("http://user@localhost:8239/callback", false),
            ("http://localhost:8239/callback?x=1", false),
            ("http://[::1]:8239/callback", false),
            ("", false),
        ];
        for (uri, expected) in cases {
            assert_eq!(redirect_uri_matches(&registered, uri), expected, "{uri}");
        }
        let exact = vec!["https://partner.example/cb".to_owned()];
        assert!(redirect_uri_matches(&exact, "https://partner.example/cb"));
        assert!(!redirect_uri_matches(
            &exact,
            "https://partner.example:444/cb"
        ));
    }

    #[test]
    fn cookies_and_callbacks() {
        assert_eq!(
            session_id(Some("a=1; posthog_session=xyz; b=2")),
            Some("xyz")
        );
        assert_eq!(session_id(Some("posthog_session=")), None);
        assert_eq!(session_id(None), None);
        let cookie = session_cookie("xyz", 60);
        for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        let nonce = "n".repeat(43);
        let header = format!("posthog_session=xyz; posthog_form={nonce}");
        assert_eq!(form_nonce(Some(&header)), Some(nonce.as_str()));
        for odd in ["short", &"n".repeat(44), &format!("{}=", "n".repeat(42))] {
            let header = format!("posthog_form={odd}");
            assert_eq!(form_nonce(Some(&header)), None, "{odd}");
        }
        let cookie = form_cookie(&nonce);
        for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=86400"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert_eq!(
            callback_url(
                "http://localhost:1/callback",
                &[("code", "a b"), ("state", "s&t")]
            ),
            "http://localhost:1/callback?code=a+b&state=s%26t"
        );
    }

    /// If this fails, another site could compute a sign-in form's token
    /// for a nonce it planted, or one browser's token would pass with
    /// another's cookie.
    #[test]
    fn form_tokens_are_bound_to_the_key_and_the_nonce() {
        let random = protocol::random::SeededRandom::new(1);
        let key = FormKey::draw(&random);
        let other_key = FormKey::draw(&random);
        let nonce = random_token(&random);
        let token = key.token(&nonce);
        assert_eq!(token, key.token(&nonce));
        assert_eq!(token.len(), 43);
        assert_ne!(token, other_key.token(&nonce));
        assert_ne!(token, key.token(&random_token(&random)));
        assert_ne!(token, nonce);
        assert_eq!(format!("{key:?}"), "FormKey(***)");
    }

    /// If a row fails, an unknown client or an unregistered redirect URI
    /// is redirected to (RFC 6749 section 4.1.2.1 forbids it), or a later
    /// refusal is shown as a page instead of going back to the client.
    #[test]
    fn check_authorize_table() {
        let policy = ScopePolicy::load("current").unwrap();
        let registered = vec!["http://localhost/callback".to_owned()];
        let wizard = Application::for_test("wizard", "user:read");
        let params =
            |redirect_uri: Option<&str>, response_type: &str, scope: &str| AuthorizeParams {
                client_id: Some("wizard".into()),
                redirect_uri: redirect_uri.map(str::to_owned),
                response_type: Some(response_type.into()),
                code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
                code_challenge_method: Some("S256".into()),
                scope: Some(scope.into()),
                state: Some("s".into()),
            };
        let loopback = Some("http://localhost:8239/callback");
        let outcome =
            |params: &AuthorizeParams, application: Option<Application>| match check_authorize(
                &policy,
                params,
                application,
                &registered,
            ) {
                Ok(authorization) => format!("ok {}", authorization.scopes.join(" ")),
                Err(Refusal::Page { message }) => format!("page {message}"),
                Err(Refusal::Redirect { error, .. }) => format!("redirect {error}"),
            };
        let inactive = Application {
            active: false,
            ..wizard.clone()
        };
        let cases = [
            (
                params(loopback, "code", "user:read"),
                Some(wizard.clone()),
                "ok user:read",
            ),
            (
                params(None, "code", ""),
                Some(wizard.clone()),
                "ok user:read",
            ),
            (
                params(loopback, "code", "user:read"),
                None,
                "page This application is not known to PostHog.",
            ),
            (
                params(loopback, "code", "user:read"),
                Some(inactive),
                "page This application has been deactivated.",
            ),
            (
                params(Some("http://evil.example/callback"), "token", "user:read"),
                Some(wizard.clone()),
                "page The redirect_uri is not registered for this application.",
            ),
            (
                params(loopback, "token", "user:read"),
                Some(wizard.clone()),
                "redirect unsupported_response_type",
            ),
            (
                params(loopback, "code", "project:read"),
                Some(wizard.clone()),
                "redirect invalid_scope",
            ),
            (
                params(None, "token", "user:read"),
                Some(wizard.clone()),
                "page unsupported_response_type: response_type must be code",
            ),
        ];
        for (params, application, expected) in cases {
            assert_eq!(outcome(&params, application), expected, "{params:?}");
        }
        let nameless = AuthorizeParams {
            client_id: None,
            ..params(loopback, "code", "user:read")
        };
        assert_eq!(
            outcome(&nameless, Some(wizard)),
            "page The link is missing its client_id."
        );
    }
}
