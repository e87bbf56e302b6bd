//! The published wizard's recorded signup answers
//! (fixtures/contracts/published-wizard/), served verbatim: our wizard must
//! get through the signup on exactly what the real server answers. The
//! server side of the same recordings is `server/tests/it/contracts.rs`.

use std::net::SocketAddr;

use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::cli::Sandbox;

fn recorded(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/contracts/published-wizard")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn answer(name: &str) -> Value {
    recorded(name)["response"]["body"].clone()
}

#[test]
fn our_wizard_signs_up_on_the_recorded_answers() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let access = answer("02-token.json")["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = Router::new()
        .route(
            "/api/agentic/provisioning/account_requests",
            post(|| async { Json(answer("01-account-request.json")) }),
        )
        .route(
            "/api/agentic/oauth/token",
            post(|| async { Json(answer("02-token.json")) }),
        )
        .route(
            "/api/agentic/provisioning/resources",
            post(|| async { Json(answer("03-resources.json")) }),
        )
        .route(
            "/wizard/v1/messages",
            post(move |headers: HeaderMap| {
                let access = access.clone();
                async move {
                    assert_eq!(
                        headers.get("authorization").and_then(|v| v.to_str().ok()),
                        Some(format!("Bearer {access}").as_str()),
                        "the gateway gets the recorded access token"
                    );
                    Json(json!({
                        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                        "content": [{"type": "text", "text": "Nothing to change."}],
                        "stop_reason": "end_turn", "stop_sequence": null,
                        "usage": {"input_tokens": 1, "output_tokens": 1}
                    }))
                }
            }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{address}");

    let sandbox = Sandbox::new();
    let output = sandbox
        .wizard()
        .args(["--signup", "--email", "ada@example.com"])
        .args([
            "--base-url",
            &url,
            "--gateway-url",
            &format!("{url}/wizard"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let env = std::fs::read_to_string(sandbox.project().join(".env.local")).unwrap();
    assert!(
        env.contains("NEXT_PUBLIC_POSTHOG_KEY=phc_fake_recorded_project_key_0000000000000000"),
        "{env}"
    );
    assert!(
        env.contains("NEXT_PUBLIC_POSTHOG_HOST=http://localhost:8010"),
        "{env}"
    );
    crate::cli::assert_no_secrets(&sandbox, &output);
}
