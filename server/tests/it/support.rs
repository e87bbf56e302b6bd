//! An in-process server for the tests: an [`AppState`] with a fixed clock,
//! seeded randomness, a throwaway database and a chosen profile, driven
//! through `tower::ServiceExt::oneshot` (no socket, no sleeps).
//!
//! Every answer goes through [`Server::send`], which refuses a `500` and an
//! answer without `x-request-id`, so no test can forget either rule.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use protocol::admin::StateSummary;
use protocol::pkce::CodeVerifier;
use protocol::random::{RandomSource, SeededRandom};
use protocol::{paths, API_VERSION, API_VERSION_HEADER, REQUEST_ID_HEADER};
use server::{AppState, Clock, Db, ScopePolicy, Seed};

/// The fixed time every test server starts at (unix seconds).
pub const NOW: i64 = 1_775_000_000;
pub const PUBLIC_URL: &str = "http://provisioning.test:8010";
pub const ADMIN_TOKEN: &str = "integration-admin-token";
/// The embedded wizard application (a public PKCE partner).
pub const WIZARD: &str = "posthog-wizard";
/// The hmac partner of [`PARTNER_SEED`].
pub const PARTNER: &str = "stripe-integration";
pub const PARTNER_SECRET: &str = "whsec_integration_secret";

/// An orchestrator partner: signed requests, the list of 18 as ceiling.
pub const PARTNER_SEED: &str = r#"
[[partners]]
client_id = "stripe-integration"
label = "Stripe (integration tests)"
auth_method = "hmac"
ceiling = "orchestrator"
capabilities = ["can_create_accounts", "can_provision_resources"]
signing_secrets = ["whsec_integration_secret"]
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Memory,
    /// `sqlite://<tempdir>/db.sqlite?mode=rwc`.
    File,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub profile: &'static str,
    pub storage: Storage,
    pub partner: bool,
    pub admin: bool,
    /// Where `POST /api/wizard/gateway_token/` mints (`None`: 404).
    pub wizard_gateway: Option<server::WizardGateway>,
}

impl Options {
    pub fn new(profile: &'static str) -> Options {
        Options {
            profile,
            storage: Storage::Memory,
            partner: false,
            admin: true,
            wizard_gateway: None,
        }
    }

    pub fn wizard_gateway(self, gateway: server::WizardGateway) -> Options {
        Options {
            wizard_gateway: Some(gateway),
            ..self
        }
    }

    pub fn file(self) -> Options {
        Options {
            storage: Storage::File,
            ..self
        }
    }

    pub fn partner(self) -> Options {
        Options {
            partner: true,
            ..self
        }
    }

    pub fn without_admin(self) -> Options {
        Options {
            admin: false,
            ..self
        }
    }
}

/// A server under test.
pub struct Server {
    pub app: server::App,
    pub state: AppState,
    /// The SQLite file, for [`Storage::File`].
    pub database_path: Option<PathBuf>,
    /// Randomness of the test's own (verifiers), apart from the server's.
    random: SeededRandom,
    emails: AtomicU64,
    /// Account requests sent per email, so a second request gets its own
    /// `id` (the same id with another body is an idempotency conflict).
    requests_per_email: Mutex<std::collections::HashMap<String, u64>>,
    _directory: Option<tempfile::TempDir>,
}

/// What a successful signup and exchange handed out.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub answer: Value,
}

impl Server {
    pub async fn start(options: Options) -> Server {
        let (directory, url, database_path) = match options.storage {
            Storage::Memory => (None, "sqlite::memory:".to_owned(), None),
            Storage::File => {
                let directory = tempfile::tempdir().expect("tempdir");
                let path = directory.path().join("db.sqlite");
                let url = format!("sqlite://{}?mode=rwc", path.display());
                (Some(directory), url, Some(path))
            }
        };
        let db = Db::connect(&url).await.expect("database opens");
        let policy = ScopePolicy::load(options.profile).expect("profile loads");
        Seed::parse(server::seed::DEFAULT_SEED, "embedded default")
            .expect("default seed parses")
            .apply(&db, &policy)
            .await
            .expect("default seed applies");
        if options.partner {
            Seed::parse(PARTNER_SEED, "partner seed")
                .expect("partner seed parses")
                .apply(&db, &policy)
                .await
                .expect("partner seed applies");
        }
        let state = AppState::new(server::state::Shared {
            db,
            clock: Arc::new(Clock::fixed(NOW)),
            random: Arc::new(SeededRandom::new(7)) as Arc<dyn RandomSource>,
            policy: Arc::new(policy),
            public_url: PUBLIC_URL.into(),
            region: protocol::region::Region::Us,
            admin_token: options.admin.then(|| ADMIN_TOKEN.into()),
            journal: Arc::default(),
            wizard_gateway: options.wizard_gateway.map(Arc::new),
            in_flight: Arc::default(),
            sign_in_throttle: Arc::default(),
            // A source of its own, so the server's seeded draws stay as
            // they were.
            form_key: Arc::new(server::login::FormKey::draw(&SeededRandom::new(13))),
            live_view: Arc::default(),
        });
        Server {
            app: server::app(state.clone()),
            state,
            database_path,
            random: SeededRandom::new(11),
            emails: AtomicU64::new(0),
            requests_per_email: Mutex::default(),
            _directory: directory,
        }
    }

    pub async fn legacy() -> Server {
        Server::start(Options::new("legacy")).await
    }

    pub async fn current() -> Server {
        Server::start(Options::new("current")).await
    }

    /// A server of the named era (`fixtures/profiles/<era>.toml`).
    pub async fn of_era(era: &'static str) -> Server {
        Server::start(Options::new(era)).await
    }

    /// A server of an era that mints a personal API key with each resource
    /// (`ceilings`: the key carries the application's ceiling), for tests of
    /// what happens to such keys; today's server mints none.
    pub async fn issuing_keys() -> Server {
        Server::start(Options::new("ceilings")).await
    }

    /// Sends one request. Every answer must carry `x-request-id` and no
    /// input may produce a `500`.
    pub async fn send(&self, call: Call) -> Answer {
        let description = format!("{} {}", call.method, call.path);
        let sent_id = call
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(REQUEST_ID_HEADER))
            .map(|(_, value)| value.clone());
        let mut request = Request::builder().method(call.method).uri(&call.path);
        for (name, value) in &call.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(Body::from(call.body)).expect("request builds");
        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body reads").to_bytes();
        let answer = Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        };
        assert_ne!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{description} answered 500: {}",
            answer.text()
        );
        let id = answer
            .header(REQUEST_ID_HEADER)
            .unwrap_or_else(|| panic!("{description} answered without x-request-id"));
        // A usable id is echoed; anything else is replaced (issue 14).
        match sent_id
            .as_deref()
            .map(|sent| (sent, protocol::request_id::accept(sent)))
        {
            Some((_, Some(taken))) => assert_eq!(
                id, taken,
                "{description} did not echo the caller's request id"
            ),
            Some((sent, None)) => assert_ne!(id, sent, "{description} echoed an unusable id"),
            None => {}
        }
        answer
    }

    /// A fresh email address.
    pub fn email(&self) -> String {
        let n = self.emails.fetch_add(1, Ordering::Relaxed);
        format!("person{n}@example.com")
    }

    pub fn verifier(&self) -> CodeVerifier {
        CodeVerifier::generate(&self.random)
    }

    /// The wizard's account request for `email` (PKCE), as sent.
    pub fn account_request(
        &self,
        email: &str,
        scopes: Option<&[&str]>,
        verifier: &CodeVerifier,
    ) -> Value {
        let sent = {
            let mut counts = self
                .requests_per_email
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = counts.entry(email.to_owned()).or_default();
            *count += 1;
            *count
        };
        let id = match sent {
            1 => format!("acctreq_{email}"),
            n => format!("acctreq_{email}_{n}"),
        };
        let mut body = json!({
            "id": id,
            "email": email,
            "name": "Ada",
            "client_id": WIZARD,
            "code_challenge": verifier.challenge().as_str(),
            "code_challenge_method": "S256",
            "configuration": {"region": "US"},
        });
        if let Some(scopes) = scopes {
            body["scopes"] = json!(scopes);
        }
        body
    }

    /// Signs up a new email with the wizard and returns its code and verifier.
    pub async fn signup(&self, scopes: Option<&[&str]>) -> (String, CodeVerifier) {
        let email = self.email();
        self.signup_as(&email, scopes).await
    }

    pub async fn signup_as(&self, email: &str, scopes: Option<&[&str]>) -> (String, CodeVerifier) {
        let verifier = self.verifier();
        let body = self.account_request(email, scopes, &verifier);
        let answer = self
            .send(Call::post(paths::ACCOUNT_REQUESTS).version().json(&body))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "signup: {}", answer.text());
        let json = answer.json();
        assert_eq!(json["type"], "oauth", "signup: {json}");
        let code = json["oauth"]["code"].as_str().expect("a code").to_owned();
        (code, verifier)
    }

    /// `grant_type=authorization_code` with a verifier.
    pub async fn exchange(&self, code: &str, verifier: &str) -> Answer {
        self.send(Call::post(paths::AGENTIC_TOKEN).version().form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
        ]))
        .await
    }

    /// `grant_type=refresh_token`, with an optional `scope`.
    pub async fn refresh(&self, refresh: &str, scope: Option<&str>) -> Answer {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh)];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.send(Call::post(paths::AGENTIC_TOKEN).version().form(&form))
            .await
    }

    /// Signs up and exchanges the code.
    pub async fn tokens(&self, scopes: Option<&[&str]>) -> Tokens {
        let (code, verifier) = self.signup(scopes).await;
        let answer = self.exchange(&code, verifier.as_str()).await;
        tokens_of(answer)
    }

    /// `POST /resources` with `{}`.
    pub async fn provision(&self, access: &str) -> Answer {
        self.send(
            Call::post(paths::RESOURCES)
                .version()
                .bearer(access)
                .json(&json!({})),
        )
        .await
    }

    /// `POST /oauth/introspect` as the gateway.
    pub async fn introspect(&self, token: &str) -> Answer {
        self.send(
            Call::post(paths::INTROSPECT)
                .gateway()
                .form(&[("token", token)]),
        )
        .await
    }

    pub async fn admin_state(&self) -> StateSummary {
        let answer = self
            .send(Call::get(paths::ADMIN_STATE).bearer(ADMIN_TOKEN))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        serde_json::from_slice(&answer.body).expect("a state summary")
    }

    /// A `Stripe-Signature` by the partner over `body`, at `offset` seconds
    /// from the server's clock.
    pub fn signature(&self, body: &[u8], offset: i64) -> String {
        protocol::signature::header_value(
            &[PARTNER_SECRET.as_bytes()],
            self.state.clock.now() + offset,
            body,
        )
    }
}

/// Reads the tokens out of a 200 token answer.
pub fn tokens_of(answer: Answer) -> Tokens {
    assert_eq!(answer.status, StatusCode::OK, "exchange: {}", answer.text());
    let json = answer.json();
    Tokens {
        access: json["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh: json["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
        answer: json,
    }
}

/// One request, built step by step.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Call {
    pub fn get(path: impl Into<String>) -> Call {
        Call::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Call {
        Call::new(Method::POST, path)
    }

    pub fn new(method: Method, path: impl Into<String>) -> Call {
        Call {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Call {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn without_header(mut self, name: &str) -> Call {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self
    }

    /// `API-Version: 0.1d`.
    pub fn version(self) -> Call {
        self.header(API_VERSION_HEADER, API_VERSION)
    }

    pub fn bearer(self, token: &str) -> Call {
        self.header("authorization", format!("Bearer {token}"))
    }

    pub fn basic(self, client_id: &str, secret: &str) -> Call {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
        self.header("authorization", format!("Basic {encoded}"))
    }

    /// HTTP Basic as the embedded gateway resource server.
    pub fn gateway(self) -> Call {
        self.basic(
            protocol::oauth::DEV_INTROSPECTION_CLIENT_ID,
            protocol::oauth::DEV_INTROSPECTION_CLIENT_SECRET,
        )
    }

    pub fn json(self, body: &Value) -> Call {
        self.raw(Some("application/json"), body.to_string())
    }

    pub fn form(self, pairs: &[(&str, &str)]) -> Call {
        let body = serde_urlencoded::to_string(pairs).expect("form encodes");
        self.raw(Some("application/x-www-form-urlencoded"), body)
    }

    /// A body as given, with `content_type` (or none).
    pub fn raw(self, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Call {
        let mut call = match content_type {
            Some(content_type) => self.header("content-type", content_type),
            None => self.without_header("content-type"),
        };
        call.body = body.into();
        call
    }
}

/// An answer, fully read.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn content_type(&self) -> Option<&str> {
        self.header(header::CONTENT_TYPE.as_str())
    }
}

/// The error envelopes of protocol section 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `{"id","type":"error","error":{"code","message"}}`.
    AccountRequest,
    /// `{"status":"error","id"?,"error":{"code","message"}}`.
    Resource,
    /// `{"error","error_description"}`.
    OAuth,
    /// `{"error":{"code","message"}}`.
    Plain,
    /// PostHog's own API: `{"type","code","detail","attr"}`.
    Detail,
}

/// Checks that `body` has exactly `family`'s shape and returns its code
/// (empty for a detail without one) and message.
pub fn envelope(family: Family, body: &Value) -> (String, String) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("{family:?}: not an object: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let nested = |value: &Value| -> (String, String) {
        let inner = value
            .as_object()
            .unwrap_or_else(|| panic!("{family:?}: error is not an object: {body}"));
        let mut inner_keys: Vec<&str> = inner.keys().map(String::as_str).collect();
        inner_keys.sort_unstable();
        assert_eq!(inner_keys, ["code", "message"], "{family:?}: {body}");
        (string(&value["code"]), string(&value["message"]))
    };
    match family {
        Family::AccountRequest => {
            assert_eq!(keys, ["error", "id", "type"], "{family:?}: {body}");
            assert_eq!(body["type"], "error", "{body}");
            assert!(
                body["id"].as_str().is_some_and(|id| !id.is_empty()),
                "the id must be a non-empty string: {body}"
            );
            nested(&body["error"])
        }
        Family::Resource => {
            assert!(
                keys == ["error", "status"] || keys == ["error", "id", "status"],
                "{family:?}: {body}"
            );
            assert_eq!(body["status"], "error", "{body}");
            if let Some(id) = body.get("id") {
                assert!(id.is_string(), "{family:?}: id must be a string: {body}");
            }
            nested(&body["error"])
        }
        Family::OAuth => {
            assert_eq!(keys, ["error", "error_description"], "{family:?}: {body}");
            (string(&body["error"]), string(&body["error_description"]))
        }
        Family::Plain => {
            assert_eq!(keys, ["error"], "{family:?}: {body}");
            nested(&body["error"])
        }
        Family::Detail => {
            assert_eq!(
                keys,
                ["attr", "code", "detail", "type"],
                "{family:?}: {body}"
            );
            let kind = string(&body["type"]);
            assert!(
                [
                    "authentication_error",
                    "invalid_request",
                    "validation_error",
                    "throttled_error",
                    "server_error"
                ]
                .contains(&kind.as_str()),
                "{family:?}: type {kind:?}: {body}"
            );
            (string(&body["code"]), string(&body["detail"]))
        }
    }
}

fn string(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

/// The space-separated form of a scope list.
pub fn joined(scopes: &[&str]) -> String {
    scopes.join(" ")
}

/// An insta redaction that checks a credential's prefix before hiding it.
pub fn secret(prefix: &'static str) -> insta::internals::Redaction {
    insta::dynamic_redaction(move |value, path| {
        let text = value.as_str().unwrap_or_default();
        assert!(
            text.starts_with(prefix) && text.len() >= prefix.len() + 43,
            "{path}: expected a full {prefix} credential, got {value:?}"
        );
        format!("[{prefix}]")
    })
}

/// An insta redaction for a UUID (checks the shape).
pub fn uuid() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, path| {
        let text = value.as_str().unwrap_or_default();
        let shape_ok = text.len() == 36
            && text.char_indices().all(|(i, c)| {
                matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
            });
        assert!(shape_ok, "{path}: expected a UUID, got {value:?}");
        "[uuid]"
    })
}

/// An insta redaction for an authorization code (43 base64url characters).
pub fn code() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, path| {
        let text = value.as_str().unwrap_or_default();
        assert!(
            text.len() == 43
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{path}: expected a 43-character code, got {value:?}"
        );
        "[code]"
    })
}

/// An insta redaction for a unix time at or after [`NOW`].
pub fn timestamp() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, path| {
        let at = value.as_i64().unwrap_or_default();
        assert!(
            (NOW..NOW + 100_000).contains(&at),
            "{path}: expected a unix time near the test clock, got {value:?}"
        );
        "[unix time]"
    })
}
