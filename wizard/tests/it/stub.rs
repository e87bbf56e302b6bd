//! A stand-in for the provisioning server and the gateway, answering with
//! canned bodies chosen per test.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
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
}

pub struct Stub {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

/// Starts the stub on a loopback port; returns once it is listening.
pub fn start(gateway: Gateway, granted_scope: &'static str) -> Stub {
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
    let app = Router::new()
        .route(
            "/api/agentic/provisioning/account_requests",
            post(|| async { Json(json!({"id": "req_1", "type": "oauth", "oauth": {"code": "code-1"}})) }),
        )
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
                async move { messages(gateway, headers, body) }
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
        _runtime: runtime,
    }
}

fn messages(gateway: Gateway, headers: HeaderMap, body: Value) -> Response {
    assert_eq!(
        headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {FAKE_ACCESS_TOKEN}").as_str()),
        "the signup path must use the access token for the gateway"
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
