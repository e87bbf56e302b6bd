//! `/readyz` and `/_liveness`: what a harness polls before it starts a run.

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn ready_when_introspection_answers() {
    let gateway = Gateway::start().await;
    let response = gateway.get("/readyz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"ready": true})
    );
    let live = gateway.get("/_liveness").await;
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn not_ready_when_introspection_is_down() {
    let closed = closed_url().await;
    let gateway = Gateway::start_with(|config| config.introspection_url = closed).await;
    let response = gateway.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert!(
        body["reason"].as_str().unwrap().contains("introspect"),
        "{body}"
    );
    // Liveness does not depend on introspection.
    let live = gateway.get("/_liveness").await;
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn not_ready_when_introspection_refuses_the_gateway() {
    let gateway = Gateway::start_with(|config| {
        config.introspection_client_secret = "not-the-secret".to_owned()
    })
    .await;
    let response = gateway.get("/readyz").await;
    assert_eq!(response.status(), 503);
}
