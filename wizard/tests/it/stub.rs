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

/// How the stub gateway answers `POST /wizard/v1/messages`.
#[derive(Clone)]
pub enum Gateway {
    /// 401 with this `WWW-Authenticate`.
    Unauthorized(&'static str),
    /// 503, introspection down.
    Unavailable,
    /// One turn with these tool uses, then `end_turn`.
    Script(Vec<Value>),
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
                        "uuid": "u-1", "email": "ada@example.com", "first_name": "Ada",
                        "organization": {"id": "org-1", "name": "Ada's org"},
                        "team": {"id": 7, "name": "Default project", "api_token": project_api_key},
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
                        "id": id, "name": "Default project", "api_token": project_api_key, "organization": "org-1"
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
    let app = Router::new()
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
            post(move |headers: HeaderMap, Json(body): Json<Value>| {
                let gateway = gateway.clone();
                async move { messages(gateway, gateway_credential, headers, body) }
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
        Gateway::Script(tools) => {
            let turn = body["messages"]
                .as_array()
                .map(|messages| messages.iter().filter(|m| m["role"] == "assistant").count())
                .unwrap_or(0);
            let (content, stop) = if turn == 0 {
                (tools, "tool_use")
            } else {
                (vec![json!({"type": "text", "text": "done"})], "end_turn")
            };
            Json(json!({
                "id": format!("msg_{turn}"), "type": "message", "role": "assistant", "model": "m",
                "content": content, "stop_reason": stop, "stop_sequence": null,
                "usage": {"input_tokens": 1, "output_tokens": 1}
            }))
            .into_response()
        }
    }
}
