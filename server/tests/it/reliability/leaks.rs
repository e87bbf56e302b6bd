//! The leak scan, fed (issue 14, class 3): the real `provisioning-server`
//! binary, logging at `debug`, is handed live credentials of every kind
//! (`pha_`, `phr_`, `phx_`, `phs_`, `phe_`, an authorization code, a
//! signed-in session id, an hmac partner's signing secret) through every
//! caller-controlled field it has: path parameters, query strings, JSON and
//! form fields, `x-request-id`, `User-Agent`, `Authorization` in every
//! scheme, cookies, `Stripe-Signature`, unknown paths. Then every answer
//! (status line, headers, body), the journal (`GET /_admin/journal`), the
//! admin live view's kept headers and bodies of each exchange (the view
//! opened from the start), the process's log and what it sent to the
//! gateway are searched for each
//! credential, whole or its random part alone (which a percent-encoded or
//! re-cased prefix would still carry). If this fails, a credential a caller
//! sent in the wrong place ends up where an operator, a log shipper or a
//! client's error report reads it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::Engine;
use serde_json::{json, Value};

use protocol::credential::{find_full_secrets, Credential, CredentialKind};
use protocol::pkce::CodeVerifier;
use protocol::random::{OsRandom, RandomSource};
use protocol::{paths, API_VERSION, API_VERSION_HEADER};

use super::live::{DatabaseFile, Process, ADMIN_TOKEN};

const PASSWORD: &str = "leak-scan-password-fake";
const SIGNED_IN: &str = "leaks@example.com";
const PARTNER: &str = "leak-scan-hmac";
const WIZARD: &str = "posthog-wizard";
const CALLBACK: &str = "http://127.0.0.1:8239/callback";

/// Every field name a body or query of the server reads, somewhere.
const FIELDS: [&str; 30] = [
    "id",
    "email",
    "name",
    "client_id",
    "client_secret",
    "redirect_uri",
    "state",
    "scope",
    "code",
    "code_verifier",
    "code_challenge",
    "code_challenge_method",
    "refresh_token",
    "grant_type",
    "token",
    "token_type_hint",
    "purpose",
    "path",
    "service_id",
    "project_id",
    "team_id",
    "next",
    "password",
    "csrf_token",
    "step",
    "decision",
    "program",
    "confirmation_secret",
    "label_prefix",
    "error",
];

/// A credential handed to the server, with its random part: what must not
/// show anywhere, whatever spelling its prefix was given.
struct Fed {
    kind: &'static str,
    value: String,
}

impl Fed {
    fn new(kind: &'static str, value: &str) -> Fed {
        Fed {
            kind,
            value: value.to_owned(),
        }
    }

    /// The random part: after a credential prefix, or all of it.
    fn random_part(&self) -> &str {
        match CredentialKind::of(&self.value) {
            Some(kind) => &self.value[kind.prefix().len()..],
            None => &self.value,
        }
    }

    /// The value with its first character percent-encoded (`%70hx_…`): a
    /// path a client may send, which decodes to the credential.
    fn encoded(&self) -> String {
        let first = self.value.as_bytes()[0];
        format!("%{first:02X}{}", &self.value[1..])
    }

    /// The first line of `text` holding the credential or its random
    /// part, cut to 300 characters.
    fn line_in(&self, text: &str) -> Option<String> {
        let line = text
            .lines()
            .find(|line| line.contains(self.random_part()))?;
        Some(line.chars().take(300).collect())
    }
}

/// One request of the sweep.
#[derive(Clone)]
struct Probe {
    label: String,
    method: reqwest::Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(&'static str, Vec<u8>)>,
}

impl Probe {
    fn new(label: impl Into<String>, method: reqwest::Method, path: impl Into<String>) -> Probe {
        // A label is printed when a check fails: never a credential in it.
        Probe {
            label: protocol::credential::redact_secret_shaped(&label.into()),
            method,
            path: path.into(),
            headers: vec![(API_VERSION_HEADER.to_owned(), API_VERSION.to_owned())],
            body: None,
        }
    }

    fn get(label: impl Into<String>, path: impl Into<String>) -> Probe {
        Probe::new(label, reqwest::Method::GET, path)
    }

    fn post(label: impl Into<String>, path: impl Into<String>) -> Probe {
        Probe::new(label, reqwest::Method::POST, path)
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Probe {
        self.headers
            .retain(|(held, _)| !held.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn bearer(self, credential: &str) -> Probe {
        self.header("authorization", format!("Bearer {credential}"))
    }

    fn json(mut self, body: &Value) -> Probe {
        self.body = Some(("application/json", body.to_string().into_bytes()));
        self
    }

    fn form(mut self, pairs: &[(&str, &str)]) -> Probe {
        let encoded = serde_urlencoded::to_string(pairs).unwrap();
        self.body = Some(("application/x-www-form-urlencoded", encoded.into_bytes()));
        self
    }

    /// Signs the body as the hmac partner (`Stripe-Signature`).
    fn signed(self, secret: &str) -> Probe {
        let body = self.body.as_ref().map(|(_, bytes)| bytes.clone());
        let value = protocol::signature::header_value(
            &[secret.as_bytes()],
            now(),
            &body.unwrap_or_default(),
        );
        self.header("stripe-signature", value)
    }
}

/// Text as a failing check may print it.
fn shown(text: &str) -> String {
    protocol::credential::redact_secret_shaped(text)
}

fn now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(elapsed.as_secs()).unwrap()
}

fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// One answer the sweep saw: its status line and headers as text, and its
/// body.
struct Seen {
    label: String,
    status: u16,
    head: String,
    body: String,
}

impl Seen {
    /// The first line of the answer showing `credential` that is not a
    /// round trip the protocol asks for: a redirect inside the app or to
    /// the client's callback keeps the parameters the browser sent (`next`,
    /// `state`), a form keeps them in hidden fields until it is posted,
    /// and an account request's answer echoes its `id` (refusals mask it).
    /// A body is searched for credentials with a prefix only: a code, a
    /// session id or a signing secret has nothing to be known by, and an
    /// error message may quote what the caller sent.
    fn echo(&self, credential: &Fed) -> Option<String> {
        let prefixed = CredentialKind::of(&credential.value).is_some();
        let body = self.body.lines().filter(|_| prefixed);
        let round_trip = |line: &str| {
            line.starts_with("location: /")
                || line.starts_with(&format!("location: {CALLBACK}"))
                || line.trim_start().starts_with("<input type=\"hidden\"")
                || (self.status == 200
                    && line.starts_with(&format!("{{\"id\":\"{}\"", credential.value)))
        };
        self.head
            .lines()
            .chain(body)
            .filter(|line| line.contains(credential.random_part()))
            .find(|line| !round_trip(line))
            .map(|line| line.chars().take(300).collect())
    }
}

struct Sweep {
    base: String,
    http: reqwest::Client,
    seen: Vec<Seen>,
    /// The live view's kept headers and bodies of every exchange sent,
    /// read right after it (the view keeps the newest 200 only).
    details: String,
    kept: usize,
}

impl Sweep {
    async fn send(&mut self, probe: Probe) -> (u16, HeaderMap, String) {
        let mut request = self
            .http
            .request(probe.method.clone(), format!("{}{}", self.base, probe.path));
        for (name, value) in &probe.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some((content_type, body)) = probe.body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("{}: {}", probe.label, shown(&error.to_string())));
        let status = response.status().as_u16();
        let headers = HeaderMap::from_iter(
            response
                .headers()
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        let body = response.text().await.unwrap_or_default();
        assert!(
            status < 500,
            "{} answered {status}: {}",
            probe.label,
            shown(&body)
        );
        let mut head = format!("{status}\n");
        for (name, value) in &headers {
            head.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        let id = headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            // An id the caller chose may be a fed credential: it is not
            // sent again (its echo is searched above).
            .filter(|_| !probe.path.starts_with("/_admin/"))
            .filter(|id| !probe.headers.iter().any(|(_, value)| value.contains(*id)))
            .map(str::to_owned);
        if let Some(id) = id {
            self.keep_details(&probe.label, &id).await;
        }
        self.seen.push(Seen {
            label: probe.label,
            status,
            head,
            body: body.clone(),
        });
        (status, headers, body)
    }

    /// Opens the live view (with a link drawn by the admin token): from
    /// now on the server keeps every exchange's headers and bodies.
    async fn watch(&self) {
        let link: protocol::admin::LiveLink = self
            .http
            .post(format!("{}{}", self.base, paths::ADMIN_LIVE_LINK))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ticket = link.url.split_once("?ticket=").unwrap().1;
        let entered = self
            .http
            .get(format!(
                "{}{}?ticket={ticket}",
                self.base,
                paths::ADMIN_LIVE_ENTER
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(entered.status(), 303, "the live view opens");
    }

    async fn keep_details(&mut self, label: &str, id: &str) {
        let answer = self
            .http
            .get(format!("{}{}/{id}", self.base, paths::ADMIN_LIVE_EXCHANGES))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        if answer.status() == 200 {
            self.kept += 1;
            let text = answer.text().await.unwrap();
            self.details.push_str(&format!("{label}\n{text}\n"));
        }
    }
}

/// The gateway's mint endpoint, faked: it hands out a fresh `phe_` and
/// keeps what the server sent it.
async fn fake_gateway(token: String) -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::routing::post;
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = received.clone();
    let router = axum::Router::new().route(
        protocol::gateway::MINT_PATH,
        post(move |headers: HeaderMap, body: String| {
            let kept = kept.clone();
            let token = token.clone();
            async move {
                let shown: Vec<String> = headers
                    .iter()
                    .filter(|(name, _)| *name != "authorization")
                    .map(|(name, value)| format!("{name}: {value:?}"))
                    .collect();
                kept.lock()
                    .unwrap()
                    .push(format!("{}\n{body}", shown.join("\n")));
                let answer = protocol::gateway::MintAnswer {
                    token,
                    expires_at: "2099-01-01T00:00:00Z".into(),
                    cap_usd: "20.000000".into(),
                };
                (axum::http::StatusCode::CREATED, axum::Json(answer))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, received)
}

fn random_part(random: &dyn RandomSource) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random.bytes(24))
}

/// A hidden field's value in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

/// `posthog_session=<id>` of an answer.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("set-cookie")?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_owned())
}

#[tokio::test]
async fn credentials_fed_through_every_field_never_reach_a_log_a_journal_or_an_echo() {
    let random = OsRandom;
    let hmac_secret = format!("whsec_fake_{}", random_part(&random));
    let personal_key = format!("phx_fake{}", random_part(&random));
    let mint_key = Credential::generate(CredentialKind::GatewayMintKey, &random);
    let gateway_token = Credential::generate(CredentialKind::GatewayToken, &random);
    let (gateway_url, sent_to_gateway) = fake_gateway(gateway_token.expose().to_owned()).await;

    let database = DatabaseFile::new();
    let seed = database.directory.path().join("leaks.toml");
    std::fs::write(
        &seed,
        format!(
            r#"
[[partners]]
client_id = "{PARTNER}"
label = "Leak scan partner"
auth_method = "hmac"
ceiling = "orchestrator"
capabilities = ["can_create_accounts", "can_provision_resources", "can_issue_deep_links"]
signing_secrets = ["{hmac_secret}"]

[[organizations]]
name = "Leak Org"

[[users]]
email = "{SIGNED_IN}"
password = "{PASSWORD}"
memberships = [{{ organization = "Leak Org" }}]

[[teams]]
organization = "Leak Org"
name = "Leak Project"

[[personal_api_keys]]
user = "{SIGNED_IN}"
team = "Leak Project"
key = "{personal_key}"
scopes = ["*"]
"#
        ),
    )
    .unwrap();
    let log = database.directory.path().join("server.log");
    let seed_path = seed.display().to_string();
    let server = Process::launch(
        &database.url,
        &log,
        &[
            "--profile",
            "current",
            "--seed",
            &seed_path,
            "--wizard-gateway-url",
            &gateway_url,
        ],
        &[
            ("RUST_LOG", "debug"),
            (
                "PROVISIONING_SERVER_WIZARD_GATEWAY_MINT_KEY",
                mint_key.expose(),
            ),
        ],
    )
    .await;
    let mut sweep = Sweep {
        base: server.base.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        seen: Vec::new(),
        details: String::new(),
        kept: 0,
    };
    sweep.watch().await;

    // Live credentials, each the real way.
    let verifier = CodeVerifier::generate(&random);
    let signup = |id: &str, email: &str, verifier: &CodeVerifier| {
        json!({
            "id": id, "email": email, "client_id": WIZARD,
            "scopes": protocol::scope::WIZARD_SIGNUP_SCOPES,
            "code_challenge": verifier.challenge().as_str(), "code_challenge_method": "S256",
        })
    };
    let (_, _, body) = sweep
        .send(Probe::post("setup", paths::ACCOUNT_REQUESTS).json(&signup(
            "leak-1",
            "owner@example.com",
            &verifier,
        )))
        .await;
    let code: Value = serde_json::from_str(&body).unwrap();
    let code = code["oauth"]["code"].as_str().unwrap().to_owned();
    let (_, _, body) = sweep
        .send(Probe::post("setup", paths::AGENTIC_TOKEN).form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", verifier.as_str()),
        ]))
        .await;
    let tokens: Value = serde_json::from_str(&body).unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (_, _, body) = sweep
        .send(
            Probe::post("setup", paths::RESOURCES)
                .bearer(&access)
                .json(&json!({})),
        )
        .await;
    let team: Value = serde_json::from_str(&body).unwrap();
    let team = team["id"].as_str().unwrap().to_owned();
    let other = CodeVerifier::generate(&random);
    let (_, _, body) = sweep
        .send(Probe::post("setup", paths::ACCOUNT_REQUESTS).json(&signup(
            "leak-2",
            "second@example.com",
            &other,
        )))
        .await;
    let unused: Value = serde_json::from_str(&body).unwrap();
    let unused_code = unused["oauth"]["code"].as_str().unwrap().to_owned();
    let (_, _, body) = sweep
        .send(
            Probe::post("setup", paths::WIZARD_GATEWAY_TOKEN)
                .bearer(&access)
                .json(&json!({"program": "posthog-integration"})),
        )
        .await;
    assert!(
        body.contains(gateway_token.expose()),
        "the gateway token is minted: {}",
        shown(&body)
    );
    let (_, headers, page) = sweep.send(Probe::get("setup", "/login")).await;
    let anonymous = session_cookie(&headers).unwrap();
    let csrf = hidden(&page, "csrf_token").unwrap();
    let (status, headers, _) = sweep
        .send(
            Probe::post("setup", "/login")
                .header("cookie", &anonymous)
                .form(&[
                    ("email", SIGNED_IN),
                    ("password", PASSWORD),
                    ("next", "/"),
                    ("csrf_token", &csrf),
                ]),
        )
        .await;
    assert_eq!(status, 303, "the seeded user signs in");
    let signed_in = session_cookie(&headers).unwrap();
    let session_id = signed_in.trim_start_matches("posthog_session=").to_owned();

    let fed = [
        Fed::new("access token", &access),
        Fed::new("refresh token", &refresh),
        Fed::new("personal API key", &personal_key),
        Fed::new("gateway mint key", mint_key.expose()),
        Fed::new("gateway token", gateway_token.expose()),
        Fed::new("authorization code", &unused_code),
        Fed::new("session id", &session_id),
        Fed::new("hmac signing secret", &hmac_secret),
    ];
    let context = Context {
        access: &access,
        personal_key: &personal_key,
        hmac_secret: &hmac_secret,
        team: &team,
        signed_in: &signed_in,
    };
    for credential in &fed {
        for probe in every_operation(credential)
            .into_iter()
            .chain(targeted(credential, &context))
        {
            sweep.send(probe).await;
        }
    }
    // The forms that need this browser's own CSRF token, fed field by field.
    for credential in &fed {
        let c = credential.value.as_str();
        let (_, headers, page) = sweep
            .send(Probe::get(
                "authorize page",
                format!("/oauth/authorize?{}", query(&authorize(None))),
            ))
            .await;
        let cookie = session_cookie(&headers).unwrap();
        let csrf = hidden(&page, "csrf_token").unwrap();
        for field in [
            "email",
            "password",
            "step",
            "team_id",
            "decision",
            "state",
            "redirect_uri",
            "scope",
            "client_id",
        ] {
            let mut form: Vec<(&str, &str)> = authorize(None);
            form.extend([
                ("csrf_token", csrf.as_str()),
                ("email", SIGNED_IN),
                ("password", "wrong"),
            ]);
            form.retain(|(name, _)| *name != field);
            form.push((field, c));
            let label = format!("POST /oauth/authorize {field} ({})", credential.kind);
            sweep
                .send(
                    Probe::post(label, "/oauth/authorize")
                        .header("cookie", &cookie)
                        .form(&form),
                )
                .await;
        }
        let (_, headers, page) = sweep.send(Probe::get("login page", "/login")).await;
        let cookie = session_cookie(&headers).unwrap();
        let csrf = hidden(&page, "csrf_token").unwrap();
        for field in ["email", "password", "next"] {
            let mut form = vec![
                ("email", SIGNED_IN),
                ("password", "wrong"),
                ("next", "/"),
                ("csrf_token", csrf.as_str()),
            ];
            form.retain(|(name, _)| *name != field);
            form.push((field, c));
            sweep
                .send(
                    Probe::post(format!("POST /login {field}={}", credential.kind), "/login")
                        .header("cookie", &cookie)
                        .form(&form),
                )
                .await;
        }
    }

    let journal = sweep
        .send(Probe::get("journal", paths::ADMIN_JOURNAL).bearer(ADMIN_TOKEN))
        .await
        .2;
    // The journal's own answer is scanned below, not as an echo.
    sweep.seen.pop();
    drop(server);
    let log_text = std::fs::read_to_string(&log).unwrap();
    let outgoing = sent_to_gateway.lock().unwrap().join("\n");

    let mut leaks = BTreeSet::new();
    for credential in &fed {
        for (place, text) in [
            ("the journal", &journal),
            ("the log", &log_text),
            ("a mint request", &outgoing),
            ("the live view's details", &sweep.details),
        ] {
            if let Some(line) = credential.line_in(text) {
                leaks.insert(format!("{} in {place}: {line}", credential.kind));
            }
        }
        for answer in sweep.seen.iter().filter(|answer| answer.label != "setup") {
            if let Some(line) = answer.echo(credential) {
                leaks.insert(format!(
                    "{} echoed by {}: {line}",
                    credential.kind, answer.label
                ));
            }
        }
    }
    for (place, text) in [
        ("the journal", &journal),
        ("the log", &log_text),
        ("the live view's details", &sweep.details),
    ] {
        for found in find_full_secrets(text) {
            leaks.insert(format!("{} in {place}", protocol::credential::mask(&found)));
        }
    }
    // The report names each credential by its mask only.
    let mut report = leaks.into_iter().collect::<Vec<_>>().join("\n");
    for credential in &fed {
        report = report
            .replace(
                &credential.value,
                &protocol::credential::mask(&credential.value),
            )
            .replace(credential.random_part(), "***");
    }
    eprintln!(
        "leak scan: {} requests, {} credentials, {} lines of log, {} journal bytes, {} exchanges' details",
        sweep.seen.len(),
        fed.len(),
        log_text.lines().count(),
        journal.len(),
        sweep.kept
    );
    assert!(
        sweep.kept * 10 > sweep.seen.len() * 9,
        "the live view kept {} of {} exchanges",
        sweep.kept,
        sweep.seen.len()
    );
    assert!(
        sweep.seen.len() > 1000,
        "the sweep sent {} requests",
        sweep.seen.len()
    );
    assert!(log_text.contains("request finished"), "the log was written");
    // The targeted requests got past their first check: the fields were
    // really read and stored, not refused unread.
    for credential in &fed {
        for label in [
            format!("account request /name ({})", credential.kind),
            format!(
                "account request signed /configuration/organization_name ({})",
                credential.kind
            ),
            format!("POST resources project_name ({})", credential.kind),
        ] {
            let statuses: Vec<u16> = sweep
                .seen
                .iter()
                .filter(|answer| answer.label == label)
                .map(|answer| answer.status)
                .collect();
            assert_eq!(statuses, [200], "{label}");
        }
    }
    assert!(report.is_empty(), "leaks:\n{report}");
}

/// The live values the targeted requests need to get past their first
/// check.
struct Context<'a> {
    access: &'a str,
    personal_key: &'a str,
    hmac_secret: &'a str,
    team: &'a str,
    signed_in: &'a str,
}

/// The wizard's authorize parameters, one of them (if named) left out.
fn authorize(without: Option<&str>) -> Vec<(&'static str, &'static str)> {
    let all = [
        ("client_id", WIZARD),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
        ("scope", "user:read"),
        ("state", "leak-scan-state"),
    ];
    all.into_iter()
        .filter(|(name, _)| Some(*name) != without)
        .collect()
}

/// Every documented operation, its path parameters, every documented
/// query parameter and every known body field set to the credential, in
/// four spellings of the headers a caller controls.
fn every_operation(credential: &Fed) -> Vec<Probe> {
    let c = credential.value.as_str();
    let document = serde_json::to_value(server::openapi()).unwrap();
    let mut probes = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let query_names: Vec<&str> = parameters
                .iter()
                .filter(|parameter| parameter["in"] == "query")
                .filter_map(|parameter| parameter["name"].as_str())
                .collect();
            let form = operation["requestBody"]["content"]
                .as_object()
                .is_some_and(|content| content.contains_key("application/x-www-form-urlencoded"));
            let spellings = [
                (
                    c.to_owned(),
                    format!("Basic {}", basic(c, c)),
                    API_VERSION.to_owned(),
                ),
                (credential.encoded(), format!("Bearer {c}"), c.to_owned()),
                (
                    c.replace('_', "%5F"),
                    format!("Token {c}"),
                    API_VERSION.to_owned(),
                ),
                (c.to_owned(), c.to_owned(), API_VERSION.to_owned()),
            ];
            for (segment, authorization, api_version) in spellings {
                let path = template
                    .split('/')
                    .map(|part| {
                        if part.starts_with('{') {
                            segment.as_str()
                        } else {
                            part
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let mut pairs: Vec<(&str, &str)> =
                    query_names.iter().map(|name| (*name, c)).collect();
                pairs.push(("utm_source", c));
                let label = format!("{method} {template} ({})", credential.kind);
                let probe = Probe::new(label, method.clone(), format!("{path}?{}", query(&pairs)))
                    .header("authorization", authorization)
                    .header(API_VERSION_HEADER, api_version)
                    .header("x-request-id", c)
                    .header("user-agent", c)
                    .header("cookie", format!("posthog_session={c}; csrftoken={c}"))
                    .header("stripe-signature", format!("t={},v1={c}", now()))
                    .header("x-api-key", c)
                    .header("referer", format!("http://127.0.0.1/?token={c}"))
                    .header("x-forwarded-for", c);
                let fields: Vec<(&str, &str)> = FIELDS.iter().map(|name| (*name, c)).collect();
                probes.push(match (method == reqwest::Method::GET, form) {
                    (true, _) => probe,
                    (false, true) => probe.form(&fields),
                    (false, false) => {
                        let mut body: serde_json::Map<String, Value> =
                            fields.iter().map(|(name, _)| (name.to_string(), json!(c))).collect();
                        body.insert("scopes".into(), json!([c]));
                        body.insert(
                            "configuration".into(),
                            json!({"region": c, "team_id": c, "organization_name": c, "project_name": c}),
                        );
                        body.insert("orchestrator".into(), json!({"type": c, "stripe": {"account": c}}));
                        probe.json(&Value::Object(body))
                    }
                });
            }
        }
    }
    probes
}

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Requests valid but for one field, so each field is read where the
/// server really reads it (past the checks that come before it).
fn targeted(credential: &Fed, context: &Context<'_>) -> Vec<Probe> {
    let c = credential.value.as_str();
    let kind = credential.kind;
    let mut probes = Vec::new();
    // Account requests, PKCE and signed, one field at a time.
    let challenge = CodeVerifier::generate(&OsRandom)
        .challenge()
        .as_str()
        .to_owned();
    let pointers = [
        "/id",
        "/email",
        "/name",
        "/client_id",
        "/scopes/0",
        "/code_challenge",
        "/configuration/region",
        "/configuration/organization_name",
        "/configuration/team_id",
        "/orchestrator/stripe/account",
        "/confirmation_secret",
    ];
    for (signed, pointer) in [false, true]
        .into_iter()
        .flat_map(|signed| pointers.map(|p| (signed, p)))
    {
        let unique = random_part(&OsRandom)
            .to_lowercase()
            .replace(['-', '_'], "x");
        let mut body = json!({
            "id": format!("req-{unique}"), "email": format!("p{}@example.com", &unique[..12]),
            "name": "Ada", "scopes": ["user:read"],
            "configuration": {"region": "US", "organization_name": "Org", "team_id": null},
            "orchestrator": {"type": "stripe", "stripe": {"account": "acct_1"}},
            "confirmation_secret": "x",
        });
        if !signed {
            body["client_id"] = json!(WIZARD);
            body["code_challenge"] = json!(challenge);
            body["code_challenge_method"] = json!("S256");
        }
        set(&mut body, pointer, json!(c));
        let how = if signed { "signed " } else { "" };
        if pointer == "/email" {
            let label = format!("{how}{pointer}=<credential>@example.com ({kind})");
            probes.push(account_request(&body, signed, context, label, |body| {
                body["email"] = json!(format!("{c}@example.com"));
            }));
        }
        let label = format!("{how}{pointer} ({kind})");
        probes.push(account_request(&body, signed, context, label, |_| {}));
    }
    // The token endpoints, form field by form field.
    for path in [paths::AGENTIC_TOKEN, "/oauth/token"] {
        for field in [
            "grant_type",
            "code",
            "code_verifier",
            "client_id",
            "redirect_uri",
            "refresh_token",
            "scope",
        ] {
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("code", "not-a-live-code-000000000000000000000000000"),
                (
                    "code_verifier",
                    "v-0000000000000000000000000000000000000000000",
                ),
                ("client_id", WIZARD),
                ("redirect_uri", CALLBACK),
            ];
            form.retain(|(name, _)| *name != field);
            form.push((field, c));
            probes.push(Probe::post(format!("POST {path} {field} ({kind})"), path).form(&form));
        }
        probes.push(
            Probe::post(format!("POST {path} refresh scope ({kind})"), path).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", c),
                ("scope", c),
            ]),
        );
    }
    // The resource family with a live access token.
    for (field, body) in [
        (
            "project_name",
            json!({"configuration": {"project_name": c}}),
        ),
        ("team_id", json!({"configuration": {"team_id": c}})),
        ("project_id", json!({"project_id": c})),
        ("service_id", json!({"service_id": c})),
        ("label_prefix", json!({"label_prefix": c})),
    ] {
        probes.push(
            Probe::post(format!("POST resources {field} ({kind})"), paths::RESOURCES)
                .bearer(context.access)
                .json(&body),
        );
    }
    let resource = format!("{}/{}", paths::RESOURCES, context.team);
    probes.push(
        Probe::post(
            format!("update_service ({kind})"),
            format!("{resource}/update_service"),
        )
        .bearer(context.access)
        .json(&json!({"service_id": c})),
    );
    probes.push(
        Probe::post(
            format!("rotate ({kind})"),
            format!("{resource}/rotate_credentials"),
        )
        .bearer(context.access)
        .json(&json!({"label_prefix": c})),
    );
    for body in [
        json!({"purpose": c}),
        json!({"path": c}),
        json!({"path": format!("/{c}")}),
    ] {
        probes.push(
            Probe::post(format!("deep link {body} ({kind})"), paths::DEEP_LINKS)
                .bearer(context.access)
                .json(&body),
        );
        let signed = Probe::post(
            format!("signed deep link {body} ({kind})"),
            paths::DEEP_LINKS,
        )
        .bearer(context.access)
        .json(&body);
        probes.push(signed.signed(context.hmac_secret));
    }
    probes.push(
        Probe::post(
            format!("gateway token ({kind})"),
            paths::WIZARD_GATEWAY_TOKEN,
        )
        .bearer(context.access)
        .json(&json!({"program": c})),
    );
    probes.push(
        Probe::post(
            format!("limits ({kind})"),
            format!("{}?{}", paths::LIMITS, query(&[("client_id", c)])),
        )
        .bearer(context.access)
        .json(&json!({"client_id": c})),
    );
    // Introspection: the token, and the resource server's own Basic.
    let gateway = basic(
        protocol::oauth::DEV_INTROSPECTION_CLIENT_ID,
        protocol::oauth::DEV_INTROSPECTION_CLIENT_SECRET,
    );
    for (authorization, form) in [
        (gateway.clone(), vec![("token", c), ("token_type_hint", c)]),
        (basic(c, "secret"), vec![("token", "x")]),
        (
            basic(protocol::oauth::DEV_INTROSPECTION_CLIENT_ID, c),
            vec![("token", "x")],
        ),
    ] {
        probes.push(
            Probe::post(format!("introspect ({kind})"), paths::INTROSPECT)
                .header("authorization", format!("Basic {authorization}"))
                .form(&form),
        );
    }
    // PostHog's API with the live personal key.
    for path in [
        format!(
            "/api/environments/{}/health_issues?{}",
            context.team,
            query(&[("status", c), ("dismissed", c), ("limit", c)])
        ),
        format!("/api/projects/{c}"),
        format!("{}?{}", paths::USERS_ME, query(&[("token", c)])),
    ] {
        probes.push(Probe::get(format!("GET {path} ({kind})"), path).bearer(context.personal_key));
    }
    // The browser's pages: every query field, signed in and not.
    for without in authorize(None).into_iter().map(|(name, _)| name) {
        let mut pairs = authorize(Some(without));
        pairs.push((without, c));
        probes.push(Probe::get(
            format!("GET /oauth/authorize {without} ({kind})"),
            format!("/oauth/authorize?{}", query(&pairs)),
        ));
        probes.push(
            Probe::get(
                format!("GET /oauth/authorize {without} signed in ({kind})"),
                format!("/oauth/authorize?{}", query(&pairs)),
            )
            .header("cookie", context.signed_in),
        );
    }
    for path in [
        format!("/login?{}", query(&[("next", c)])),
        format!("/login?{}", query(&[("next", &format!("/{c}"))])),
        format!(
            "/api/agentic/authorize?{}",
            query(&[("state", c), ("scope", c)])
        ),
        format!("/agentic/authorize?{}", query(&[("state", c)])),
        format!(
            "/agentic/account-mismatch?{}",
            query(&[
                ("expected_email", c),
                ("current_email", c),
                ("partner_name", c),
                ("state", c)
            ])
        ),
        format!("/agentic/login?{}", query(&[("token", c), ("team_id", c)])),
        format!("/api/partners/stripe/login?{}", query(&[("token", c)])),
        format!("/?{}", query(&[("error", c)])),
        format!("/verify_email/{c}"),
        format!("/project/{c}"),
        format!("/{c}"),
        format!("/api/agentic/{c}"),
        format!("/oauth/{c}"),
        format!("/api/partners/stripe/{c}"),
        format!("/_admin/{c}"),
    ] {
        probes.push(Probe::get(format!("GET {path} ({kind})"), path.clone()));
        probes.push(
            Probe::get(format!("GET {path} signed in ({kind})"), path)
                .header("cookie", context.signed_in),
        );
    }
    probes.push(
        Probe::post(
            format!("POST /agentic/authorize ({kind})"),
            "/agentic/authorize",
        )
        .header("cookie", context.signed_in)
        .form(&[("state", c), ("csrf_token", c), ("team_id", c)]),
    );
    probes.push(Probe::get(format!("admin journal ({kind})"), paths::ADMIN_JOURNAL).bearer(c));
    probes
}

/// An account request, after `adjust`, signed by the partner when
/// `signed`.
fn account_request(
    body: &Value,
    signed: bool,
    context: &Context<'_>,
    label: String,
    adjust: impl FnOnce(&mut Value),
) -> Probe {
    let mut body = body.clone();
    adjust(&mut body);
    let probe =
        Probe::post(format!("account request {label}"), paths::ACCOUNT_REQUESTS).json(&body);
    match signed {
        true => probe.signed(context.hmac_secret),
        false => probe,
    }
}

/// Sets the value at `pointer`, adding a missing top-level field.
fn set(body: &mut Value, pointer: &str, value: Value) {
    match body.pointer_mut(pointer) {
        Some(slot) => *slot = value,
        None => {
            body[pointer.trim_start_matches('/')] = value;
        }
    }
}
