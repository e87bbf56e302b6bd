//! The flows the driver repeats, over reqwest on loopback: our signup, the
//! authorization-code + PKCE flow against us and against the peer, the
//! peer's single token, and one plain request (when wrk is missing).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use reqwest::StatusCode;
use serde_json::{json, Value};

use protocol::pkce::CodeVerifier;
use protocol::random::OsRandom;
use protocol::{paths, API_VERSION, API_VERSION_HEADER};

use e2e::browser::{parse_forms, query_params, resolve, Browser};

use crate::load::{timed, Steps};

pub const WIZARD_CLIENT: &str = "posthog-wizard";
/// A loopback callback nobody listens on: the flows read the redirect,
/// never follow it.
pub const CALLBACK: &str = "http://127.0.0.1:9/callback";
pub const LOGIN_EMAIL: &str = "login@example.com";
pub const LOGIN_PASSWORD: &str = "login-password-fake";

/// A client that never follows redirects and gives up after 10 s.
pub fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .build()?)
}

async fn expect_json(response: reqwest::Response, step: &str) -> Result<Value> {
    let status = response.status();
    let bytes = response.bytes().await?;
    if status != StatusCode::OK {
        bail!("{step}: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
    }
    serde_json::from_slice(&bytes).with_context(|| format!("{step}: not JSON"))
}

/// The credentials a signup hands out.
#[derive(Debug, Clone)]
pub struct SignedUp {
    pub access_token: String,
    pub personal_api_key: String,
}

/// Our full signup: account request with a fresh PKCE pair → token →
/// resources.
pub async fn signup(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    steps: &mut Steps,
) -> Result<SignedUp> {
    let verifier = CodeVerifier::generate(&OsRandom);
    let body = json!({
        "email": email,
        "name": "Bench",
        "client_id": WIZARD_CLIENT,
        "scopes": protocol::scope::WIZARD_SIGNUP_SCOPES,
        "code_challenge": verifier.challenge().as_str(),
        "code_challenge_method": "S256",
        "configuration": {"region": "US"},
    });
    let request = http
        .post(format!("{base}{}", paths::ACCOUNT_REQUESTS))
        .header(API_VERSION_HEADER, API_VERSION)
        .json(&body)
        .send();
    let answer = timed(steps, "account_request", async {
        expect_json(request.await?, "account request").await
    })
    .await?;
    let code = answer["oauth"]["code"]
        .as_str()
        .ok_or_else(|| anyhow!("account request: no code in {answer}"))?
        .to_owned();
    let request = http
        .post(format!("{base}{}", paths::AGENTIC_TOKEN))
        .header(API_VERSION_HEADER, API_VERSION)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send();
    let answer = timed(steps, "token", async {
        expect_json(request.await?, "token").await
    })
    .await?;
    let access_token = answer["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("token: no access_token"))?
        .to_owned();
    let request = http
        .post(format!("{base}{}", paths::RESOURCES))
        .header(API_VERSION_HEADER, API_VERSION)
        .bearer_auth(&access_token)
        .json(&json!({}))
        .send();
    let answer = timed(steps, "resources", async {
        expect_json(request.await?, "resources").await
    })
    .await?;
    let personal_api_key = answer["complete"]["access_configuration"]["personal_api_key"]
        .as_str()
        .ok_or_else(|| anyhow!("resources: no personal_api_key"))?
        .to_owned();
    Ok(SignedUp {
        access_token,
        personal_api_key,
    })
}

/// Unique emails for one run.
#[derive(Debug, Clone)]
pub struct Emails {
    prefix: String,
    next: Arc<AtomicU64>,
}

impl Emails {
    pub fn new(prefix: &str) -> Emails {
        Emails {
            prefix: prefix.to_owned(),
            next: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}@bench.example.com", self.prefix)
    }
}

fn authorize_query(challenge: &str, scope: &str, client_id: &str) -> String {
    serde_urlencoded::to_string([
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("scope", scope),
        ("state", "bench"),
    ])
    .unwrap_or_default()
}

fn code_of_redirect(response: &reqwest::Response, step: &str) -> Result<String> {
    if !response.status().is_redirection() {
        bail!(
            "{step}: expected a redirect, got HTTP {}",
            response.status()
        );
    }
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| anyhow!("{step}: redirect without Location"))?;
    query_params(location)
        .into_iter()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code)
        .ok_or_else(|| anyhow!("{step}: no code in {location}"))
}

const OUR_SCOPE: &str = "user:read llm_gateway:read";

/// Signs the seeded user in once and allows the wizard application, so
/// that consent is remembered: the session cookie for [`our_auth_code`].
pub async fn sign_in(http: &reqwest::Client, base: &str) -> Result<String> {
    let mut browser = Browser::default();
    let verifier = CodeVerifier::generate(&OsRandom);
    let mut url = format!(
        "{base}/oauth/authorize?{}",
        authorize_query(verifier.challenge().as_str(), OUR_SCOPE, WIZARD_CLIENT)
    );
    let mut submit: Vec<(String, String)> = vec![
        ("email".into(), LOGIN_EMAIL.into()),
        ("password".into(), LOGIN_PASSWORD.into()),
    ];
    // Sign-in page → sign in → consent page → allow → callback.
    for page in ["sign-in", "consent"] {
        let mut request = http.get(&url);
        if let Some(cookie) = browser.cookie_header() {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request.send().await?;
        store_cookies(&mut browser, &response);
        let html = response.text().await?;
        let form = parse_forms(&html)
            .into_iter()
            .find(|form| form.method == "POST")
            .ok_or_else(|| anyhow!("{page} page: no form"))?;
        let mut fields = form.fields.clone();
        if page == "consent" {
            submit = vec![("decision".into(), "allow".into())];
        }
        for (name, value) in &submit {
            fields.retain(|(field, _)| field != name);
            fields.push((name.clone(), value.clone()));
        }
        let mut request = http.post(resolve(&url, &form.action)).form(&fields);
        if let Some(cookie) = browser.cookie_header() {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request.send().await?;
        store_cookies(&mut browser, &response);
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| anyhow!("{page}: HTTP {} without a redirect", response.status()))?;
        url = resolve(&url, location);
    }
    if !url.starts_with(CALLBACK) {
        bail!("the consent did not end at the callback: {url}");
    }
    browser
        .cookie_header()
        .ok_or_else(|| anyhow!("no session cookie after signing in"))
}

fn store_cookies(browser: &mut Browser, response: &reqwest::Response) {
    for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
        if let Ok(value) = value.to_str() {
            browser.store_cookie(value);
        }
    }
}

/// Our interactive login with a signed-in session and remembered consent:
/// `GET /oauth/authorize` → 302 with a code → `POST /oauth/token`.
pub async fn our_auth_code(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    steps: &mut Steps,
) -> Result<()> {
    let verifier = CodeVerifier::generate(&OsRandom);
    let url = format!(
        "{base}/oauth/authorize?{}",
        authorize_query(verifier.challenge().as_str(), OUR_SCOPE, WIZARD_CLIENT)
    );
    let request = http.get(url).header(reqwest::header::COOKIE, cookie).send();
    let code = timed(steps, "authorize", async {
        code_of_redirect(&request.await?, "authorize")
    })
    .await?;
    let request = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("client_id", WIZARD_CLIENT),
            ("code_verifier", verifier.as_str()),
        ])
        .send();
    timed(steps, "token", async {
        expect_json(request.await?, "token").await
    })
    .await?;
    Ok(())
}

/// The same flow against the peer: `GET /authorize` → 302 → `POST /token`.
pub async fn peer_auth_code(http: &reqwest::Client, base: &str, steps: &mut Steps) -> Result<()> {
    let verifier = CodeVerifier::generate(&OsRandom);
    let url = format!(
        "{base}/authorize?{}",
        authorize_query(verifier.challenge().as_str(), "openid", "bench")
    );
    let request = http.get(url).send();
    let code = timed(steps, "authorize", async {
        code_of_redirect(&request.await?, "authorize")
    })
    .await?;
    let request = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("client_id", "bench"),
            ("code_verifier", verifier.as_str()),
        ])
        .send();
    timed(steps, "token", async {
        expect_json(request.await?, "token").await
    })
    .await?;
    Ok(())
}

/// The peer's cheapest token: one `client_credentials` grant. Returns the
/// access token.
pub async fn peer_token(http: &reqwest::Client, base: &str, steps: &mut Steps) -> Result<String> {
    let request = http
        .post(format!("{base}/token"))
        .basic_auth("bench", Some("bench-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send();
    let answer = timed(steps, "token", async {
        expect_json(request.await?, "peer token").await
    })
    .await?;
    answer["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("peer token: no access_token"))
}

/// One plain request, as wrk would send it (the fallback without wrk).
#[derive(Debug, Clone)]
pub struct Plain {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

pub async fn plain(http: &reqwest::Client, request: &Plain, steps: &mut Steps) -> Result<()> {
    let mut builder = http.request(request.method.clone(), &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let sent = builder.send();
    timed(steps, "request", async {
        let response = sent.await?;
        let status = response.status();
        response.bytes().await?;
        if !status.is_success() {
            bail!("HTTP {status}");
        }
        Ok(())
    })
    .await
}
