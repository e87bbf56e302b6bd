//! The interactive login (protocol section 6): `GET`/`POST /oauth/authorize`
//! as a browser drives them (a cookie, the forms' hidden fields), and the
//! code's exchange at `POST /oauth/token`.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, StatusCode};
use serde_json::json;

use protocol::paths;
use protocol::pkce::CodeVerifier;
use protocol::scope::WIZARD_LOGIN_SCOPES;

use crate::support::*;

pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const CALLBACK: &str = "http://127.0.0.1:8239/callback";

/// A browser: its cookies, by name.
pub(crate) struct Browser<'a> {
    server: &'a Server,
    cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(server: &'a Server) -> Browser<'a> {
        Browser {
            server,
            cookies: BTreeMap::new(),
        }
    }

    pub(crate) async fn send(&mut self, call: Call) -> Answer {
        let call = match cookie_header(&self.cookies) {
            Some(cookie) => call.header("cookie", cookie),
            None => call,
        };
        let answer = self.server.send(call).await;
        keep_cookies(&mut self.cookies, &answer.headers);
        answer
    }

    /// Forgets one cookie, as a browser whose cookie expired would.
    pub(crate) fn forget(&mut self, name: &str) {
        self.cookies.remove(name);
    }

    pub(crate) async fn open(&mut self, query: &str) -> Answer {
        self.send(Call::get(format!("{}?{query}", paths::OAUTH_AUTHORIZE)))
            .await
    }

    /// Submits the page's form: its hidden fields, then `fields`.
    pub(crate) async fn submit(&mut self, page: &Answer, fields: &[(&str, &str)]) -> Answer {
        let mut pairs = hidden_fields(&page.text());
        for (name, value) in fields {
            pairs.retain(|(existing, _)| existing != name);
            pairs.push(((*name).to_owned(), (*value).to_owned()));
        }
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        self.send(Call::post(paths::OAUTH_AUTHORIZE).form(&pairs))
            .await
    }

    /// Opens, signs in and follows back to the consent page.
    async fn sign_in(&mut self, query: &str, email: &str) -> Answer {
        let page = self.open(query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        assert!(page.text().contains("id=\"sign-in\""), "{}", page.text());
        let signed_in = self
            .submit(&page, &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.text()
        );
        let location = signed_in.header("location").unwrap().to_owned();
        assert!(location.starts_with("/oauth/authorize?"), "{location}");
        self.send(Call::get(location)).await
    }
}

/// The `Cookie` header of these cookies, if there are any.
pub(crate) fn cookie_header(cookies: &BTreeMap<String, String>) -> Option<String> {
    (!cookies.is_empty()).then(|| {
        cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Keeps the cookies an answer sets (each `Set-Cookie`'s `name=value`).
pub(crate) fn keep_cookies(cookies: &mut BTreeMap<String, String>, headers: &HeaderMap) {
    for set in headers.get_all(header::SET_COOKIE) {
        let pair = set.to_str().unwrap().split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        cookies.insert(name.to_owned(), value.to_owned());
    }
}

/// The `name`/`value` pairs of every hidden input of our own pages.
pub(crate) fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.lines()
        .filter(|line| line.contains("type=\"hidden\""))
        .map(|line| (attribute(line, "name"), unescape(&attribute(line, "value"))))
        .collect()
}

fn attribute(tag: &str, name: &str) -> String {
    let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = tag[start..].find('"').unwrap();
    tag[start..start + end].to_owned()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map_or("", |(_, query)| query);
    serde_urlencoded::from_str(query).unwrap()
}

fn param(location: &str, name: &str) -> Option<String> {
    query_of(location)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// A user (created by a signup) with [`PASSWORD`]; returns the email.
pub(crate) async fn user_with_password(server: &Server) -> String {
    let email = server.email();
    server.signup_as(&email, None).await;
    let user = server
        .state
        .db
        .user_by_email(&email)
        .await
        .unwrap()
        .unwrap();
    let hash = server::password::hash(PASSWORD, server.state.random.as_ref());
    server
        .state
        .db
        .set_password_hash(user.id, &hash)
        .await
        .unwrap();
    email
}

/// What today's server grants the wizard's login list: all of it but the
/// hidden `wizard_session:*` (PAT-only scopes, outside `@default`).
fn granted_at_login() -> String {
    WIZARD_LOGIN_SCOPES
        .iter()
        .filter(|scope| !scope.starts_with("wizard_session:"))
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn authorize_query(verifier: &CodeVerifier, redirect_uri: &str, scope: &str) -> String {
    serde_urlencoded::to_string([
        ("client_id", WIZARD),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("code_challenge", verifier.challenge().as_str()),
        ("code_challenge_method", "S256"),
        ("scope", scope),
        ("state", "st4te"),
    ])
    .unwrap()
}

async fn exchange(server: &Server, form: &[(&str, &str)]) -> Answer {
    server.send(Call::post(paths::OAUTH_TOKEN).form(form)).await
}

fn assert_oauth(answer: &Answer, code: &str) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    let (got, _) = envelope(Family::OAuth, &answer.json());
    assert_eq!(got, code, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

/// Signs in, allows, and returns the callback location.
async fn allow(browser: &mut Browser<'_>, query: &str, email: &str) -> String {
    let consent = browser.sign_in(query, email).await;
    assert!(
        consent.text().contains("id=\"consent\""),
        "{}",
        consent.text()
    );
    let allowed = browser.submit(&consent, &[("decision", "allow")]).await;
    assert_eq!(allowed.status, StatusCode::SEE_OTHER, "{}", allowed.text());
    allowed.header("location").unwrap().to_owned()
}

/// If this fails, the wizard's fallback for an existing email cannot sign
/// a person in, or a wrong password would reveal something.
#[tokio::test]
async fn sign_in_consent_and_exchange() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let verifier = server.verifier();
    let query = authorize_query(&verifier, CALLBACK, &WIZARD_LOGIN_SCOPES.join(" "));
    let mut browser = Browser::new(&server);
    let page = browser.open(&query).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type(), Some("text/html; charset=utf-8"));
    // Not signed in: the anonymous form cookie, and no session yet.
    let cookie = page
        .header("set-cookie")
        .expect("the anonymous form cookie")
        .to_owned();
    for part in ["posthog_form=", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    for (email, password) in [(email.as_str(), "wrong"), ("nobody@example.com", PASSWORD)] {
        let refused = browser
            .submit(&page, &[("email", email), ("password", password)])
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(refused.text().contains("Wrong email or password."));
        assert!(refused.text().contains("id=\"sign-in\""));
        assert!(refused.header("set-cookie").is_none());
    }
    assert!(!browser.cookies.contains_key("posthog_session"));
    let location = allow(&mut browser, &query, &email).await;
    assert!(
        browser.cookies.contains_key("posthog_session"),
        "signing in must start a session"
    );
    assert!(
        location.starts_with(&format!("{CALLBACK}?code=")),
        "{location}"
    );
    assert_eq!(param(&location, "state").as_deref(), Some("st4te"));
    let code = param(&location, "code").unwrap();
    let answer = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", WIZARD),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let json = answer.json();
    assert_eq!(json["scope"], granted_at_login());
    assert_eq!(json["posthog_region"], "us");
    let team = json["account"]["available_teams"][0]["id"].clone();
    assert_eq!(json["scoped_teams"], json!([team]));
    // Refresh at the same endpoint, as JSON this time.
    let refreshed = server
        .send(Call::post(paths::OAUTH_TOKEN).json(&json!({
            "grant_type": "refresh_token",
            "refresh_token": json["refresh_token"],
        })))
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    assert_eq!(refreshed.json()["scoped_teams"], json!([team]));
    assert_eq!(refreshed.json()["posthog_region"], "us");
    // The code is single-use.
    let again = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", WIZARD),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    assert_oauth(&again, "invalid_grant");
}

/// If this fails, a person who says no still hands out a code, or a
/// second login asks again for what was already allowed.
#[tokio::test]
async fn deny_and_remembered_consent() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let verifier = server.verifier();
    let query = authorize_query(&verifier, CALLBACK, "user:read project:read");
    let mut browser = Browser::new(&server);
    let consent = browser.sign_in(&query, &email).await;
    let denied = browser.submit(&consent, &[("decision", "deny")]).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER);
    let location = denied.header("location").unwrap();
    assert_eq!(param(location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(location, "state").as_deref(), Some("st4te"));
    assert_eq!(param(location, "code"), None);
    // Denying remembers nothing: the consent page again.
    let again = browser.open(&query).await;
    assert!(again.text().contains("id=\"consent\""), "{}", again.text());
    let allowed = browser.submit(&again, &[("decision", "allow")]).await;
    assert!(param(allowed.header("location").unwrap(), "code").is_some());
    // Remembered: straight back, on another loopback port too.
    let other_port = authorize_query(
        &server.verifier(),
        "http://localhost:51234/callback",
        "user:read",
    );
    let skipped = browser.open(&other_port).await;
    assert_eq!(skipped.status, StatusCode::FOUND, "{}", skipped.text());
    let location = skipped.header("location").unwrap();
    assert!(
        location.starts_with("http://localhost:51234/callback?code="),
        "{location}"
    );
    // More than was allowed: asked again.
    let wider = authorize_query(&server.verifier(), CALLBACK, "user:read query:read");
    let asked = browser.open(&wider).await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.text().contains("data-scope=\"query:read\""));
    // The session expires on the server's clock: sign in again.
    server
        .state
        .clock
        .advance(server::login::SESSION_SECONDS + 1)
        .unwrap();
    let expired = browser.open(&query).await;
    assert!(
        expired.text().contains("id=\"sign-in\""),
        "{}",
        expired.text()
    );
}

/// If this fails, the wizard believes it holds scopes it does not.
#[tokio::test]
async fn scopes_above_the_ceiling_are_dropped_silently() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let verifier = server.verifier();
    let mut asked: Vec<&str> = WIZARD_LOGIN_SCOPES.to_vec();
    asked.extend(["introspection", "llm_gateway:write"]);
    let query = authorize_query(&verifier, CALLBACK, &asked.join(" "));
    let mut browser = Browser::new(&server);
    let consent = browser.sign_in(&query, &email).await;
    let text = consent.text();
    assert!(text.contains("data-scope=\"health_issue:read\""));
    assert!(!text.contains("data-scope=\"introspection\""), "{text}");
    assert!(!text.contains("data-scope=\"llm_gateway:write\""), "{text}");
    let allowed = browser.submit(&consent, &[("decision", "allow")]).await;
    let code = param(allowed.header("location").unwrap(), "code").unwrap();
    let answer = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", WIZARD),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let scope = answer.json()["scope"].as_str().unwrap().to_owned();
    assert_eq!(scope, granted_at_login());
}

/// If this fails, a code could be sent to a site the application never
/// registered, or a malformed request would show the sign-in page.
#[tokio::test]
async fn redirect_uri_and_request_validation() {
    let server = Server::current().await;
    let verifier = server.verifier();
    for uri in [
        "http://localhost:1/callback",
        "http://127.0.0.1:65535/callback",
        "http://localhost:8239/callback",
    ] {
        let page = Browser::new(&server)
            .open(&authorize_query(&verifier, uri, "user:read"))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.text());
    }
    for uri in [
        "http://evil.example/callback",
        "http://localhost:8239/elsewhere",
        "https://localhost:8239/callback",
    ] {
        let page = Browser::new(&server)
            .open(&authorize_query(&verifier, uri, "user:read"))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(page.header("location").is_none(), "{uri} was redirected to");
        assert!(page.text().contains("id=\"error\""));
    }
    let unknown =
        authorize_query(&verifier, CALLBACK, "user:read").replace("posthog-wizard", "nobody");
    let page = Browser::new(&server).open(&unknown).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.header("location").is_none());
    // Other errors go back to the (valid) redirect URI with the state.
    let cases = [
        (
            "response_type=code",
            "response_type=token",
            "unsupported_response_type",
        ),
        (
            "code_challenge_method=S256",
            "code_challenge_method=plain",
            "invalid_request",
        ),
        ("scope=user%3Aread", "scope=introspection", "invalid_scope"),
    ];
    for (from, to, error) in cases {
        let query = authorize_query(&verifier, CALLBACK, "user:read").replace(from, to);
        let answer = Browser::new(&server).open(&query).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{to}: {}", answer.text());
        let location = answer.header("location").unwrap();
        assert!(location.starts_with(CALLBACK), "{location}");
        assert_eq!(param(location, "error").as_deref(), Some(error), "{to}");
        assert_eq!(param(location, "state").as_deref(), Some("st4te"));
    }
}

/// If this fails, another site could post the forms on a person's behalf.
#[tokio::test]
async fn forms_without_the_sessions_csrf_token_are_refused() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let query = authorize_query(&server.verifier(), CALLBACK, "user:read");
    let mut browser = Browser::new(&server);
    let page = browser.open(&query).await;
    let forged = browser
        .submit(
            &page,
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let mut stranger = Browser::new(&server);
    let no_cookie = stranger
        .submit(&page, &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN);
    // Signed in, a consent post with another token is refused too.
    let consent = browser.sign_in(&query, &email).await;
    let forged = browser
        .submit(&consent, &[("decision", "allow"), ("csrf_token", "forged")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.header("location").is_none());
}

/// If this fails, a stolen code works from another client or callback, or
/// lives longer than 300 s.
#[tokio::test]
async fn the_code_is_bound_to_client_redirect_verifier_and_time() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let verifier = server.verifier();
    let query = authorize_query(&verifier, CALLBACK, "user:read");
    let mut browser = Browser::new(&server);
    let location = allow(&mut browser, &query, &email).await;
    let code = param(&location, "code").unwrap();
    let good = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", WIZARD),
        ("code_verifier", verifier.as_str()),
    ];
    let with = |name: &'static str, value: &'static str| {
        let mut form = good.to_vec();
        form.retain(|(key, _)| *key != name);
        if !value.is_empty() {
            form.push((name, value));
        }
        form
    };
    // Mistakes that do not burn the code.
    for (name, value, error) in [
        (
            "redirect_uri",
            "http://127.0.0.1:9999/callback",
            "invalid_grant",
        ),
        ("redirect_uri", "", "invalid_grant"),
        (
            "client_id",
            "DC5uRLVbGI02YQ82grxgnK6Qn12SXWpCqdPb60oZ",
            "invalid_grant",
        ),
        ("client_id", "", "invalid_request"),
    ] {
        let answer = exchange(&server, &with(name, value)).await;
        assert_oauth(&answer, error);
    }
    // Today's server verifies before it consumes: a wrong verifier leaves
    // the code for the right one, which then uses it up.
    let wrong = exchange(
        &server,
        &with(
            "code_verifier",
            "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww",
        ),
    )
    .await;
    assert_oauth(&wrong, "invalid_grant");
    let right = exchange(&server, &good).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text());
    assert_oauth(&exchange(&server, &good).await, "invalid_grant");
    let before_expiry = server.admin_state().await.access_tokens;
    // Expiry on the injected clock.
    let verifier = server.verifier();
    let query = authorize_query(&verifier, CALLBACK, "user:read");
    let skipped = browser.open(&query).await;
    let code = param(skipped.header("location").unwrap(), "code").unwrap();
    server.state.clock.advance(301).unwrap();
    let late = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", WIZARD),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    assert_oauth(&late, "invalid_grant");
    assert_eq!(server.admin_state().await.access_tokens, before_expiry);
}

/// If this fails, a code issued to a redirect URI could be exchanged
/// without it (RFC 6749 section 4.1.3) at the agentic endpoint, whose
/// callers send none; refusing must not burn the code either.
#[tokio::test]
async fn an_interactive_login_code_belongs_at_oauth_token() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let verifier = server.verifier();
    let query = authorize_query(&verifier, CALLBACK, "user:read");
    let mut browser = Browser::new(&server);
    let location = allow(&mut browser, &query, &email).await;
    let code = param(&location, "code").unwrap();
    let agentic = server
        .send(Call::post(protocol::paths::AGENTIC_TOKEN).version().form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
        ]))
        .await;
    assert_oauth(&agentic, "invalid_grant");
    assert!(
        agentic.text().contains("/oauth/token"),
        "{}",
        agentic.text()
    );
    let answer = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("client_id", WIZARD),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

/// If this fails, the older eras' `requires_auth` answer of an existing
/// email leads nowhere: its URL must open the sign-in page, and the code it
/// yields (shown to paste, without a redirect URI) must exchange.
#[tokio::test]
async fn the_requires_auth_url_opens_the_sign_in_page() {
    let server = Server::of_era("ceilings").await;
    let email = user_with_password(&server).await;
    let verifier = server.verifier();
    let mut body = server.account_request(&email, Some(&["user:read"]), &verifier);
    body["id"] = json!("acctreq_second");
    let answer = server
        .send(Call::post(paths::ACCOUNT_REQUESTS).version().json(&body))
        .await;
    assert_eq!(answer.json()["type"], "requires_auth", "{}", answer.text());
    let url = answer.json()["requires_auth"]["redirect"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = url.strip_prefix(PUBLIC_URL).expect("on this server");
    assert!(path.starts_with("/oauth/authorize?"), "{url}");
    let query = path.split_once('?').unwrap().1.to_owned();
    let mut browser = Browser::new(&server);
    let consent = browser.sign_in(&query, &email).await;
    let shown = browser.submit(&consent, &[("decision", "allow")]).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    let text = shown.text();
    let marker = "<code id=\"authorization-code\">";
    let start = text.find(marker).unwrap() + marker.len();
    let code = &text[start..start + text[start..].find('<').unwrap()];
    let answer = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", WIZARD),
            ("code_verifier", verifier.as_str()),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["scope"], "user:read");
}
