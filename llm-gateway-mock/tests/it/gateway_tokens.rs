//! Gateway tokens over the wire: the provisioning server's mint at
//! `/v1/tokens`, and a `phe_` let in on every model route without asking
//! introspection.

use protocol::gateway::DEV_MINT_KEY;
use serde_json::{json, Value};

use crate::support::*;

fn mint_request() -> Value {
    json!({
        "cap_usd": "20.000000",
        "ttl_seconds": 3600,
        "product": "wizard:posthog-integration",
        "obo": "0190aaaa-0000-7000-8000-00000000000a",
        "user": "distinct-fake-1",
    })
}

async fn mint(gateway: &Gateway, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = gateway.http.post(format!("{}/v1/tokens", gateway.base));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// If this fails, the wizard's gateway token (2.74 and later) is refused at
/// the gateway that minted it, or the gateway mints for anyone.
#[tokio::test]
async fn a_minted_phe_is_let_in_everywhere_and_only_the_mint_key_mints() {
    let gateway = Gateway::start().await;
    let (status, answer) = mint(&gateway, Some("phs_wrong_mint_key_fake"), &mint_request()).await;
    assert_eq!(
        (status, answer),
        (401, json!({"error": "invalid mint key"}))
    );
    let (status, _) = mint(&gateway, None, &mint_request()).await;
    assert_eq!(status, 401);
    let mut out_of_bounds = mint_request();
    out_of_bounds["ttl_seconds"] = json!(10);
    let (status, answer) = mint(&gateway, Some(DEV_MINT_KEY), &out_of_bounds).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("ttl_seconds"));

    let (status, answer) = mint(&gateway, Some(DEV_MINT_KEY), &mint_request()).await;
    assert_eq!(status, 201, "{answer}");
    let token = answer["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("phe_"));
    assert_eq!(answer["cap_usd"], "20.000000");

    let before = gateway.introspection.seen().len();
    for path in ["/wizard/v1/messages", "/v1/messages"] {
        let response = gateway
            .post_bearer(path, &token, &first_request("framework: next-js"))
            .await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    for stream in [false, true] {
        let body = json!({"model": "gpt-5-mini", "input": "hello", "stream": stream});
        let response = gateway.post_bearer("/v1/responses", &token, &body).await;
        assert_eq!(response.status().as_u16(), 200, "stream {stream}");
        let text = response.text().await.unwrap();
        assert!(
            text.contains("response.completed") || text.contains("\"completed\""),
            "{text}"
        );
    }
    assert_eq!(
        gateway.introspection.seen().len(),
        before,
        "a phe_ is checked by the gateway alone"
    );

    let journal = gateway.journal_text().await;
    assert!(journal.contains("phe_***"), "{journal}");
    assert!(journal.contains("phs_***"), "{journal}");
    assert!(
        protocol::credential::find_full_secrets(&journal).is_empty(),
        "the journal holds only masks"
    );
}

/// If this fails, a token the gateway never minted, or any bad credential,
/// reaches the Responses API.
#[tokio::test]
async fn an_unknown_phe_and_other_refusals_hold_on_the_responses_route() {
    let gateway = Gateway::start().await;
    for (label, credential, status) in [
        (
            "unknown phe_",
            Some("phe_never_minted_here_fake_000000"),
            401,
        ),
        ("no credential", None, 401),
        ("phx_ without the scope", Some(PAT_WITHOUT_SCOPE), 401),
        ("scopeless wizard pha_", Some(SCOPELESS_WIZARD_TOKEN), 401),
        ("good phx_", Some(PAT), 200),
    ] {
        let mut request = gateway
            .http
            .post(format!("{}/v1/responses", gateway.base))
            .json(&json!({"model": "gpt-5-mini", "input": "hello"}));
        if let Some(credential) = credential {
            request = request.bearer_auth(credential);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{label}");
        if status == 401 {
            let body: Value = response.json().await.unwrap();
            assert_eq!(
                body,
                json!({"detail": "Authentication required"}),
                "{label}"
            );
        }
    }
    let journal = gateway.journal_text().await;
    assert!(journal.contains("invalid_gateway_token"), "{journal}");
}
