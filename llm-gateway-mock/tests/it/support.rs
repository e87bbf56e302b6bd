//! The harness: a fake introspection endpoint and a gateway, both bound to
//! `127.0.0.1:0` before they serve, so no test waits or sleeps.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use gateway::{AppState, Config};
use protocol::oauth::{
    IntrospectionAnswer, IntrospectionRequest, DEV_INTROSPECTION_CLIENT_ID,
    DEV_INTROSPECTION_CLIENT_SECRET, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_PERSONAL_API_KEY,
};
use serde_json::{json, Value};

/// Obviously fake credentials, each with a canned introspection answer.
pub const PAT: &str = "phx_test_fake_pat_with_llm_scope_0001";
pub const PAT_WITHOUT_SCOPE: &str = "phx_test_fake_pat_without_scope_0002";
pub const PAT_UNKNOWN: &str = "phx_test_fake_unknown_or_revoked_0003";
pub const WIZARD_TOKEN: &str = "pha_test_fake_wizard_access_token_0004";
pub const OTHER_APP_TOKEN: &str = "pha_test_fake_other_app_access_token_0005";
pub const EU_PAT: &str = "phx_test_fake_pat_from_the_eu_region_0006";
pub const SCOPELESS_WIZARD_TOKEN: &str = "pha_test_fake_scopeless_wizard_token_0007";
/// Introspection answers HTTP 500 for this one.
pub const BREAKS_INTROSPECTION: &str = "phx_test_fake_makes_introspection_fail_0008";
/// Introspection answers 200 with a body that is not an answer.
pub const GARBLES_INTROSPECTION: &str = "phx_test_fake_makes_introspection_garble_0009";

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// What the fake introspection endpoint saw of one call.
#[derive(Debug, Clone)]
pub struct SeenCall {
    pub token: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Clone, Default)]
pub struct FakeIntrospection {
    pub answers: Arc<Mutex<HashMap<String, IntrospectionAnswer>>>,
    pub seen: Arc<Mutex<Vec<SeenCall>>>,
    /// When set, each call decides its answer, then waits for a permit
    /// before sending it (a slow server), and says it arrived.
    pub hold: Arc<Mutex<Option<Arc<tokio::sync::Semaphore>>>>,
    pub arrived: Arc<tokio::sync::Notify>,
}

impl FakeIntrospection {
    pub fn seen(&self) -> Vec<SeenCall> {
        self.seen.lock().unwrap().clone()
    }

    /// Makes `token` unknown from now on, as a rotation or revocation would.
    pub fn revoke(&self, token: &str) {
        self.answers.lock().unwrap().remove(token);
    }
}

fn live(
    scope: &str,
    token_type: &str,
    client_id: Option<&str>,
    region: &str,
) -> IntrospectionAnswer {
    IntrospectionAnswer {
        active: true,
        scope: Some(scope.to_owned()),
        client_id: client_id.map(str::to_owned),
        token_type: Some(token_type.to_owned()),
        exp: Some(4_000_000_000),
        iat: Some(1_700_000_000),
        sub: Some("0190aaaa-0000-7000-8000-000000000001".to_owned()),
        scoped_teams: Some(vec![1]),
        region: Some(region.to_owned()),
    }
}

fn canned_answers() -> HashMap<String, IntrospectionAnswer> {
    let pat = TOKEN_TYPE_PERSONAL_API_KEY;
    let access = TOKEN_TYPE_ACCESS_TOKEN;
    HashMap::from([
        (
            PAT.to_owned(),
            live("user:read llm_gateway:read", pat, None, "us"),
        ),
        (
            PAT_WITHOUT_SCOPE.to_owned(),
            live("user:read project:read", pat, None, "us"),
        ),
        (
            WIZARD_TOKEN.to_owned(),
            live(
                "user:read llm_gateway:read",
                access,
                Some("posthog-wizard"),
                "us",
            ),
        ),
        (
            OTHER_APP_TOKEN.to_owned(),
            live("llm_gateway:read", access, Some("some-other-app"), "us"),
        ),
        (EU_PAT.to_owned(), live("llm_gateway:read", pat, None, "eu")),
        (
            SCOPELESS_WIZARD_TOKEN.to_owned(),
            live("", access, Some("posthog-wizard"), "us"),
        ),
    ])
}

async fn introspect(
    State(fake): State<FakeIntrospection>,
    headers: HeaderMap,
    Form(form): Form<IntrospectionRequest>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64_encode(&format!(
            "{DEV_INTROSPECTION_CLIENT_ID}:{DEV_INTROSPECTION_CLIENT_SECRET}"
        ))
    );
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    fake.seen.lock().unwrap().push(SeenCall {
        token: form.token.clone(),
        request_id: headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    if authorization != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error":"invalid_client","error_description":"bad client credentials"})),
        )
            .into_response();
    }
    let token = form.token.unwrap_or_default();
    match token.as_str() {
        BREAKS_INTROSPECTION => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        GARBLES_INTROSPECTION => return "<html>oops</html>".into_response(),
        _ => {}
    }
    let answer = fake
        .answers
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or_else(IntrospectionAnswer::inactive);
    let hold = fake.hold.lock().unwrap().clone();
    fake.arrived.notify_one();
    if let Some(hold) = hold {
        hold.acquire().await.expect("the hold stays open").forget();
    }
    Json(answer).into_response()
}

/// Standard base64 for the expected Basic header (the test crate has no
/// base64 dependency; this is short enough).
fn base64_encode(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = match chunk.len() {
            1 => u32::from(chunk[0]) << 16,
            2 => (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8),
            _ => (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]),
        };
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    address
}

/// Starts the fake introspection endpoint; answers are the canned ones.
pub async fn start_introspection() -> (FakeIntrospection, String) {
    let fake = FakeIntrospection {
        answers: Arc::new(Mutex::new(canned_answers())),
        ..FakeIntrospection::default()
    };
    let router = Router::new()
        .route("/oauth/introspect", post(introspect))
        .with_state(fake.clone());
    let address = serve(router).await;
    (fake, format!("http://{address}/oauth/introspect"))
}

/// A URL on which nothing listens: bind a port, then let it go.
pub async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/oauth/introspect")
}

/// A POST the gateway admits or refuses: (path, credential, status, a
/// fragment of the body).
pub type AdmissionCase<'a> = (&'a str, &'a str, u16, &'a str);

pub struct Gateway {
    pub base: String,
    pub http: reqwest::Client,
    pub introspection: FakeIntrospection,
}

impl Gateway {
    /// A gateway in front of the fake introspection, with admin routes.
    pub async fn start() -> Gateway {
        Gateway::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Gateway {
        let (introspection, introspection_url) = start_introspection().await;
        let mut config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            introspection_url,
            admin_token: Some(ADMIN_TOKEN.to_owned()),
            ..Config::default()
        };
        adjust(&mut config);
        let state = AppState::from_config(&config).unwrap();
        // The program's own accept loop, within the configured limits.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(protocol::serve::serve(
            listener,
            gateway::app(state),
            config.limits,
            std::future::pending(),
        ));
        Gateway {
            base: format!("http://{address}"),
            http: reqwest::Client::new(),
            introspection,
        }
    }

    pub fn messages_url(&self) -> String {
        format!("{}/wizard/v1/messages", self.base)
    }

    /// Posts a Messages API body with `x-api-key: credential`.
    pub async fn post_messages(&self, credential: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.messages_url())
            .header("x-api-key", credential)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET path`, without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// Posts a JSON body to `path` with `Authorization: Bearer credential`.
    pub async fn post_bearer(
        &self,
        path: &str,
        credential: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(credential)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// [`Gateway::post_bearer`], its answer read as JSON.
    pub async fn post_bearer_for_json(&self, path: &str, credential: &str, body: &Value) -> Value {
        self.post_bearer(path, credential, body)
            .await
            .json()
            .await
            .unwrap()
    }

    /// Posts `body` to each case's path with its bearer credential: the
    /// status and a fragment of the answer are the case's.
    pub async fn check_admissions(&self, body: &Value, cases: &[AdmissionCase<'_>]) {
        for (path, credential, status, fragment) in cases {
            let response = self.post_bearer(path, credential, body).await;
            let got = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert_eq!(got, *status, "{path} {}: {text}", &credential[..4]);
            assert!(text.contains(fragment), "{path}: {text}");
        }
    }

    pub async fn journal_text(&self) -> String {
        self.http
            .get(format!("{}/_admin/journal", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The JSON files of `fixtures/harness/<harness>/` in path order: the
/// recorded exchanges, at least `at_least` of them.
pub fn recorded_exchanges(harness: &str, at_least: usize) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/harness")
        .join(harness);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= at_least,
        "the recorded exchanges of {harness} are missing"
    );
    files
}

/// The wizard's first request for a framework.
pub fn first_request(framework_line: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 8192,
        "system": "You are the PostHog setup wizard's agent.",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": format!("Integrate PostHog into this project.\n{framework_line}\nproject root: .")}
            ]}
        ],
        "tools": [
            {"name": "Write", "input_schema": {"type": "object"}},
            {"name": "Edit", "input_schema": {"type": "object"}}
        ]
    })
}

/// Appends the assistant's answer and a user turn answering each of its
/// `tool_use` blocks (the first one refused when `refuse_first`).
pub fn continue_conversation(request: &mut Value, answer: &Value, refuse_first: bool) {
    let results: Vec<Value> = answer["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|block| block["type"] == "tool_use")
        .enumerate()
        .map(|(index, block)| {
            let refused = refuse_first && index == 0;
            json!({
                "type": "tool_result",
                "tool_use_id": block["id"],
                "content": if refused { "refused: conflicting content" } else { "staged" },
                "is_error": refused,
            })
        })
        .collect();
    let messages = request["messages"].as_array_mut().unwrap();
    messages.push(json!({"role": "assistant", "content": answer["content"]}));
    messages.push(json!({"role": "user", "content": results}));
}
