//! A stand-in for the provisioning server, the PostHog API subset, the
//! interactive login's token endpoint and the gateway, answering with canned
//! bodies chosen per test.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Obviously fake credentials, long enough to look real to the scanner.
pub const FAKE_ACCESS_TOKEN: &str = "pha_fakeFAKEfakeFAKEfakeFAKEfakeFAKEfake01";
pub const FAKE_REFRESH_TOKEN: &str = "phr_fakeFAKEfakeFAKEfakeFAKEfakeFAKEfake02";
pub const FAKE_PERSONAL_KEY: &str = "phx_fakeFAKEfakeFAKEfakeFAKEfakeFAKEfake03";

/// Stands for the stub's URL in a [`Gateway::Script`]'s tool inputs.
pub const STUB_URL: &str = "{STUB_URL}";

/// How the stub gateway answers `POST /wizard/v1/messages`.
#[derive(Clone)]
pub enum Gateway {
    /// 401 with this `WWW-Authenticate`.
    Unauthorized(&'static str),
    /// 503, introspection down.
    Unavailable,
    /// One turn with these tool uses, then `end_turn`.
    Script(Vec<Value>),
    /// Streams the first answer cut before `message_stop` `cuts` times,
    /// then plays the script (streamed when asked).
    CutStream {
        cuts: usize,
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        script: Vec<Value>,
    },
    /// Plays the script for the first `after` calls (so turn 1's edits
    /// are staged), then refuses every later call with `status` (401 with
    /// `WWW-Authenticate: Bearer error="invalid_token"`, or 403).
    RefusedAfter {
        status: u16,
        after: usize,
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        script: Vec<Value>,
    },
    /// Answers `status` (with `Retry-After: 0` on 429) to the first
    /// `failures` calls, then plays the script.
    Flaky {
        status: u16,
        failures: usize,
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        script: Vec<Value>,
    },
}

/// How the stub PostHog API answers `users/@me`, `projects/{id}` and
/// health issues.
#[derive(Clone)]
pub enum Api {
    /// 200 for the personal key and the access token.
    Ok,
    /// 401 with this detail.
    Unauthorized(&'static str),
    /// 403 with this detail.
    Forbidden(&'static str),
}

/// How the stub answers `POST /api/agentic/provisioning/deep_links`.
#[derive(Clone, Copy)]
pub enum DeepLinks {
    Issued,
    /// This status with the plain error envelope.
    Refused(u16),
    /// A 200 whose body is not a deep link.
    Garbled,
}

/// The single-use token in the stub's deep link (not a credential prefix,
/// like the real one).
pub const DEEP_LINK_TOKEN: &str = "dl-token-1";

/// The stub's `n`th single-use token (counting from 1), as it hands out a
/// new one for every deep-link request.
pub fn deep_link_token(n: usize) -> String {
    format!("dl-token-{n}")
}

/// Everything a test can choose about the stub.
#[derive(Clone)]
pub struct Options {
    pub gateway: Gateway,
    /// The `scope` the agentic token endpoint grants (signup path).
    pub granted_scope: &'static str,
    /// The account request answers `requires_auth` (an existing email).
    pub existing_email: bool,
    /// The `scope` `POST /oauth/token` grants (interactive login).
    pub login_scope: &'static str,
    pub api: Api,
    /// The health issues' `results`.
    pub health_issues: Vec<Value>,
    /// Health issues answer 403 (the credential lacks `health_issue:read`).
    pub health_forbidden: bool,
    /// The project key `users/@me` and `projects/{id}` answer.
    pub project_api_key: &'static str,
    /// The credential the gateway expects.
    pub gateway_credential: &'static str,
    pub deep_links: DeepLinks,
}

impl Options {
    pub fn new(gateway: Gateway, granted_scope: &'static str) -> Options {
        Options {
            gateway,
            granted_scope,
            existing_email: false,
            login_scope: "",
            api: Api::Ok,
            health_issues: vec![],
            health_forbidden: false,
            project_api_key: "phc_public_project_key",
            gateway_credential: FAKE_ACCESS_TOKEN,
            deep_links: DeepLinks::Issued,
        }
    }
}

/// The code the stub's browser hands out, and what the token endpoint saw.
pub const LOGIN_CODE: &str = "login-code-1";

pub struct Stub {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    /// The form of the last `POST /oauth/token`.
    pub login_form: Arc<Mutex<Option<HashMap<String, String>>>>,
    /// Each deep link request: its `API-Version`, `Authorization` and body.
    pub deep_link_requests: Arc<Mutex<Vec<(String, String, Value)>>>,
    /// Each gateway request's `stream` field.
    pub gateway_streams: Arc<Mutex<Vec<Value>>>,
    /// Each gateway request's body.
    pub gateway_bodies: Arc<Mutex<Vec<Value>>>,
    _runtime: tokio::runtime::Runtime,
}

/// Starts the stub on a loopback port; returns once it is listening.
pub fn start(gateway: Gateway, granted_scope: &'static str) -> Stub {
    start_with(Options::new(gateway, granted_scope))
}

pub fn start_with(options: Options) -> Stub {
    let gateway = options.gateway.clone();
    let granted_scope = options.granted_scope;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let url = format!("http://{address}");
    let host = url.clone();
    // A script may name the stub's own URL (the host the env file gets).
    let gateway = match gateway {
        Gateway::Script(tools) => Gateway::Script(
            serde_json::from_str(
                &serde_json::to_string(&tools)
                    .unwrap()
                    .replace(STUB_URL, &url),
            )
            .unwrap(),
        ),
        other => other,
    };
    let challenge: Arc<Mutex<Option<String>>> = Arc::default();
    let login_form: Arc<Mutex<Option<HashMap<String, String>>>> = Arc::default();
    let account = {
        let (challenge, options, url) = (challenge.clone(), options.clone(), url.clone());
        move |Json(body): Json<Value>| {
            let (challenge, options, url) = (challenge.clone(), options.clone(), url.clone());
            async move {
                let sent = body["code_challenge"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                *challenge.lock().unwrap() = Some(sent.clone());
                if !options.existing_email {
                    return Json(
                        json!({"id": "req_1", "type": "oauth", "oauth": {"code": "code-1"}}),
                    );
                }
                let scope = body["scopes"]
                    .as_array()
                    .map(|scopes| {
                        scopes
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("+")
                    })
                    .unwrap_or_default();
                Json(
                    json!({"id": "req_1", "type": "requires_auth", "requires_auth": {"type": "redirect", "redirect": {
                        "url": format!("{url}/oauth/authorize?client_id=posthog-wizard&response_type=code&code_challenge={sent}&code_challenge_method=S256&scope={scope}")
                    }}}),
                )
            }
        }
    };
    let login_token = {
        let (challenge, login_form, login_scope) =
            (challenge.clone(), login_form.clone(), options.login_scope);
        move |Form(form): Form<HashMap<String, String>>| {
            let (challenge, login_form) = (challenge.clone(), login_form.clone());
            async move { login_token(challenge, login_form, login_scope, form) }
        }
    };
    let api = options.api.clone();
    let project_api_key = options.project_api_key;
    let me = {
        let api = api.clone();
        move |headers: HeaderMap| {
            let api = api.clone();
            async move {
                posthog_api(&api, &headers, || {
                    json!({
                        "uuid": "u-1", "distinct_id": "d-1", "email": "ada@example.com",
                        "first_name": "Ada",
                        "organization": {"id": "org-1", "name": "Ada's org"},
                        "team": {"id": 7, "organization": "org-1", "name": "Default project",
                                 "api_token": project_api_key},
                        "organizations": [{"id": "org-1", "name": "Ada's org"}]
                    })
                })
            }
        }
    };
    let project = {
        let api = api.clone();
        move |headers: HeaderMap, Path(id): Path<i64>| {
            let api = api.clone();
            async move {
                posthog_api(&api, &headers, || {
                    json!({
                        "id": id, "uuid": "p-1", "name": "Default project",
                        "api_token": project_api_key, "organization": "org-1"
                    })
                })
            }
        }
    };
    let health = {
        let issues = options.health_issues.clone();
        let api = match options.health_forbidden {
            true => Api::Forbidden("This action requires the 'health_issue:read' scope, which this credential does not have"),
            false => api.clone(),
        };
        move |headers: HeaderMap| {
            let (api, issues) = (api.clone(), issues.clone());
            async move {
                posthog_api(
                    &api,
                    &headers,
                    || json!({"results": issues, "count": issues.len()}),
                )
            }
        }
    };
    let gateway_credential = options.gateway_credential;
    let deep_link_requests: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
    let gateway_streams: Arc<Mutex<Vec<Value>>> = Arc::default();
    let gateway_bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
    let deep_links = {
        let (requests, answer, url) = (deep_link_requests.clone(), options.deep_links, url.clone());
        move |headers: HeaderMap, Json(body): Json<Value>| {
            let (requests, url) = (requests.clone(), url.clone());
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                requests.lock().unwrap().push((
                    header("api-version"),
                    header("authorization"),
                    body.clone(),
                ));
                // Each link is single-use, as the real server's: a new token
                // for every request (dl-token-1, dl-token-2, …).
                let issued = requests.lock().unwrap().len();
                match answer {
                    DeepLinks::Issued => Json(json!({
                        "purpose": body["purpose"],
                        "url": format!("{url}/agentic/login?token=dl-token-{issued}&team_id=7"),
                        "expires_at": "2026-06-01T10:10:00Z"
                    }))
                    .into_response(),
                    DeepLinks::Refused(status) => (
                        StatusCode::from_u16(status).unwrap(),
                        Json(json!({"error": {"code": "forbidden", "message": "This application may not issue deep links"}})),
                    )
                        .into_response(),
                    DeepLinks::Garbled => Json(json!({"ok": true})).into_response(),
                }
            }
        }
    };
    let app = Router::new()
        .route("/api/agentic/provisioning/deep_links", post(deep_links))
        .route("/api/agentic/provisioning/account_requests", post(account))
        .route("/oauth/token", post(login_token))
        .route("/api/users/@me/", get(me))
        .route("/api/projects/{id}/", get(project))
        .route("/api/environments/{id}/health_issues/", get(health))
        .route(
            "/api/agentic/oauth/token",
            post(move || async move {
                Json(json!({
                    "token_type": "bearer", "access_token": FAKE_ACCESS_TOKEN,
                    "refresh_token": FAKE_REFRESH_TOKEN, "expires_in": 3600, "scope": granted_scope,
                    "account": {"id": "org-1", "payment_credentials": "orchestrator", "available_teams": []}
                }))
            }),
        )
        .route(
            "/api/agentic/provisioning/resources",
            post(move || async move {
                Json(json!({
                    "status": "complete", "id": "7", "service_id": "analytics",
                    "complete": {"access_configuration": {
                        "api_key": "phc_public_project_key", "host": host, "personal_api_key": FAKE_PERSONAL_KEY
                    }}
                }))
            }),
        )
        .route(
            "/wizard/v1/messages",
            post({
                let (streams, bodies) = (gateway_streams.clone(), gateway_bodies.clone());
                move |headers: HeaderMap, Json(body): Json<Value>| {
                    let (gateway, streams, bodies) =
                        (gateway.clone(), streams.clone(), bodies.clone());
                    async move {
                        streams.lock().unwrap().push(body["stream"].clone());
                        bodies.lock().unwrap().push(body.clone());
                        messages(gateway, gateway_credential, headers, body)
                    }
                }
            }),
        )
        .layer(axum::middleware::from_fn(move |request, next: axum::middleware::Next| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { next.run(request).await }
        }));
    runtime.spawn(async move { axum::serve(listener, app).await });
    Stub {
        url,
        requests,
        login_form,
        deep_link_requests,
        gateway_streams,
        gateway_bodies,
        _runtime: runtime,
    }
}

/// `POST /oauth/token`: the code must be [`LOGIN_CODE`], the verifier must
/// answer the account request's challenge (or the wizard's own one, which
/// the test cannot know, so only its presence is checked then).
fn login_token(
    challenge: Arc<Mutex<Option<String>>>,
    login_form: Arc<Mutex<Option<HashMap<String, String>>>>,
    login_scope: &'static str,
    form: HashMap<String, String>,
) -> Response {
    *login_form.lock().unwrap() = Some(form.clone());
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let matches_account_request = challenge.lock().unwrap().as_deref().is_none_or(|sent| {
        protocol::pkce::CodeVerifier::parse(&verifier)
            .is_ok_and(|verifier| verifier.challenge().as_str() == sent)
    });
    let complete = [
        "grant_type",
        "code",
        "redirect_uri",
        "client_id",
        "code_verifier",
    ]
    .iter()
    .all(|field| form.get(*field).is_some_and(|value| !value.is_empty()));
    if form.get("code").map(String::as_str) != Some(LOGIN_CODE)
        || !complete
        || !matches_account_request
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "Invalid or expired authorization code"})),
        )
            .into_response();
    }
    Json(json!({
        "token_type": "bearer", "access_token": FAKE_ACCESS_TOKEN,
        "refresh_token": FAKE_REFRESH_TOKEN, "expires_in": 3600, "scope": login_scope,
        "scoped_teams": [7], "posthog_region": "us"
    }))
    .into_response()
}

fn posthog_api(api: &Api, headers: &HeaderMap, body: impl FnOnce() -> Value) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    match api {
        _ if bearer.is_empty() => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "Authentication credentials were not provided."})),
        )
            .into_response(),
        Api::Ok => Json(body()).into_response(),
        Api::Unauthorized(detail) => {
            (StatusCode::UNAUTHORIZED, Json(json!({"detail": detail}))).into_response()
        }
        Api::Forbidden(detail) => (
            StatusCode::FORBIDDEN,
            Json(json!({"detail": detail, "code": "permission_denied"})),
        )
            .into_response(),
    }
}

fn messages(gateway: Gateway, credential: &str, headers: HeaderMap, body: Value) -> Response {
    assert_eq!(
        headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {credential}").as_str()),
        "the gateway must get the run's credential (the access token on the signup and login paths)"
    );
    match gateway {
        Gateway::Unauthorized(header) => (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", header)],
            Json(json!({"detail": "Authentication required"})),
        )
            .into_response(),
        Gateway::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"detail": "Authentication service unavailable"})),
        )
            .into_response(),
        Gateway::Flaky {
            status,
            failures,
            calls,
            script,
        } => {
            let call = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if call < failures {
                let mut answer = (
                    StatusCode::from_u16(status).unwrap(),
                    Json(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
                )
                    .into_response();
                if status == 429 {
                    answer
                        .headers_mut()
                        .insert("retry-after", "0".parse().unwrap());
                }
                return answer;
            }
            messages(Gateway::Script(script), credential, headers, body)
        }
        Gateway::RefusedAfter {
            status,
            after,
            calls,
            script,
        } => {
            let call = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if call < after {
                return messages(Gateway::Script(script), credential, headers, body);
            }
            let status = StatusCode::from_u16(status).unwrap();
            let mut answer =
                (status, Json(json!({"detail": "Authentication required"}))).into_response();
            if status == StatusCode::UNAUTHORIZED {
                answer.headers_mut().insert(
                    "www-authenticate",
                    r#"Bearer realm="llm-gateway", error="invalid_token""#
                        .parse()
                        .unwrap(),
                );
            }
            answer
        }
        Gateway::CutStream {
            cuts,
            calls,
            script,
        } => {
            let call = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if call >= cuts {
                return messages(Gateway::Script(script), credential, headers, body);
            }
            let whole = server_sent_events(&scripted(script, &body));
            let cut = whole.find("event: message_delta").unwrap();
            (
                [("content-type", "text/event-stream")],
                whole[..cut].to_owned(),
            )
                .into_response()
        }
        Gateway::Script(tools) => {
            let message = scripted(tools, &body);
            if body["stream"] == json!(true) {
                return (
                    [("content-type", "text/event-stream")],
                    server_sent_events(&message),
                )
                    .into_response();
            }
            Json(message).into_response()
        }
    }
}

/// The events of one answer, as the real gateway sends them: text and tool
/// input in small deltas, a comment and a ping thrown in, the stop reason
/// only in `message_delta`.
fn server_sent_events(message: &Value) -> String {
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    let mut events = vec![json!({"type": "message_start", "message": start})];
    events.push(json!({"type": "ping"}));
    for (index, block) in message["content"].as_array().unwrap().iter().enumerate() {
        let pieces = |text: &str| -> Vec<String> {
            text.chars()
                .collect::<Vec<_>>()
                .chunks(7)
                .map(|piece| piece.iter().collect())
                .collect()
        };
        match block["type"].as_str() {
            Some("text") => {
                events.push(json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}));
                for piece in pieces(block["text"].as_str().unwrap()) {
                    events.push(json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}));
                }
            }
            _ => {
                events.push(json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}));
                for piece in pieces(&block["input"].to_string()) {
                    events.push(json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}}));
                }
            }
        }
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": null}, "usage": {"output_tokens": 1}}));
    events.push(json!({"type": "message_stop"}));
    let mut body = String::from(": a comment the client ignores\n\n");
    for event in events {
        body.push_str(&format!(
            "event: {}\ndata: {event}\n\n",
            event["type"].as_str().unwrap()
        ));
    }
    body
}

/// The scripted answer to this request: the tool uses on the first turn,
/// then `end_turn`.
fn scripted(tools: Vec<Value>, body: &Value) -> Value {
    let turn = body["messages"]
        .as_array()
        .map(|messages| messages.iter().filter(|m| m["role"] == "assistant").count())
        .unwrap_or(0);
    let (content, stop) = if turn == 0 {
        (tools, "tool_use")
    } else {
        (vec![json!({"type": "text", "text": "done"})], "end_turn")
    };
    json!({
        "id": format!("msg_{turn}"), "type": "message", "role": "assistant", "model": "m",
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": {"input_tokens": 1, "output_tokens": 1}
    })
}
