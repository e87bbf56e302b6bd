//! The credential decision over the wire: what the wizard sees for each
//! kind of bad credential, and that introspection is asked correctly.

use serde_json::Value;

use crate::support::*;

/// One refusal as a person reading the wizard's verbose log would see it.
async fn refusal(gateway: &Gateway, request: reqwest::RequestBuilder) -> String {
    let response = request
        .json(&first_request("framework: next-js"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_else(|| "-".to_owned());
    assert!(response.headers().contains_key("x-request-id"));
    let body = response.text().await.unwrap();
    let _ = gateway;
    format!("{status} | {challenge} | {body}")
}

#[tokio::test]
async fn each_refusal_has_its_status_header_and_body() {
    let gateway = Gateway::start().await;
    let url = gateway.messages_url();
    let http = &gateway.http;
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("no credential", http.post(&url)),
        (
            "unknown prefix (phc_)",
            http.post(&url)
                .bearer_auth("phc_test_fake_project_key_0000"),
        ),
        (
            "unknown or revoked phx_",
            http.post(&url).bearer_auth(PAT_UNKNOWN),
        ),
        (
            "key from the other region",
            http.post(&url).header("x-api-key", EU_PAT),
        ),
        (
            "phx_ without llm_gateway:read",
            http.post(&url).header("x-api-key", PAT_WITHOUT_SCOPE),
        ),
        (
            "scopeless wizard pha_ (the bug)",
            http.post(&url).bearer_auth(SCOPELESS_WIZARD_TOKEN),
        ),
        (
            "pha_ of another OAuth application",
            http.post(&url).bearer_auth(OTHER_APP_TOKEN),
        ),
        (
            "introspection answers 500",
            http.post(&url).header("x-api-key", BREAKS_INTROSPECTION),
        ),
        (
            "introspection answers garbage",
            http.post(&url).header("x-api-key", GARBLES_INTROSPECTION),
        ),
    ];
    let mut report = String::new();
    for (name, request) in cases {
        report.push_str(&format!("{name}: {}\n", refusal(&gateway, request).await));
    }
    insta::assert_snapshot!(report);
}

#[tokio::test]
async fn unknown_prefix_is_refused_without_asking_introspection() {
    let gateway = Gateway::start().await;
    for credential in [
        "sk-ant-test-fake",
        "phc_test_fake_project_key_0000",
        "phr_test_fake_refresh_0000",
    ] {
        let response = gateway
            .post_messages(credential, &first_request("framework: next-js"))
            .await;
        assert_eq!(response.status(), 401, "{credential}");
    }
    assert!(
        gateway.introspection.seen().is_empty(),
        "introspection was asked about a non-phx_/pha_ credential"
    );
}

#[tokio::test]
async fn introspection_down_is_a_503_never_a_401() {
    let closed = closed_url().await;
    let gateway = Gateway::start_with(|config| config.introspection_url = closed).await;
    let response = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("www-authenticate").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"detail": "Authentication service unavailable"})
    );
}

#[tokio::test]
async fn wrong_introspection_client_secret_is_a_503() {
    let gateway = Gateway::start_with(|config| {
        config.introspection_client_secret = "not-the-secret".to_owned()
    })
    .await;
    let response = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(
        response.status(),
        503,
        "the gateway's own misconfiguration must not blame the key"
    );
}

#[tokio::test]
async fn x_api_key_beats_bearer() {
    let gateway = Gateway::start().await;
    let send = |api_key: &str, bearer: &str| {
        gateway
            .http
            .post(gateway.messages_url())
            .header("x-api-key", api_key)
            .bearer_auth(bearer)
            .json(&first_request("framework: next-js"))
            .send()
    };
    assert_eq!(send(PAT, PAT_UNKNOWN).await.unwrap().status(), 200);
    assert_eq!(send(PAT_UNKNOWN, PAT).await.unwrap().status(), 401);
    let asked: Vec<_> = gateway
        .introspection
        .seen()
        .into_iter()
        .map(|call| call.token)
        .collect();
    assert_eq!(
        asked,
        vec![Some(PAT.to_owned()), Some(PAT_UNKNOWN.to_owned())]
    );
}

#[tokio::test]
async fn request_id_follows_the_request_to_introspection_and_back() {
    let gateway = Gateway::start().await;
    let response = gateway
        .http
        .post(gateway.messages_url())
        .header("x-api-key", PAT)
        .header("x-request-id", "test-request-42")
        .json(&first_request("framework: next-js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "test-request-42");
    let response = gateway
        .post_messages(WIZARD_TOKEN, &first_request("framework: next-js"))
        .await;
    assert_eq!(response.status(), 200);
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(generated.len() > 8, "a generated request id: {generated}");
    let ids: Vec<_> = gateway
        .introspection
        .seen()
        .into_iter()
        .map(|call| call.request_id)
        .collect();
    assert_eq!(
        ids,
        vec![Some("test-request-42".to_owned()), Some(generated)]
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_its_very_next_request() {
    let gateway = Gateway::start().await;
    let body = first_request("framework: next-js");
    assert_eq!(gateway.post_messages(PAT, &body).await.status(), 200);
    gateway.introspection.revoke(PAT);
    assert_eq!(
        gateway.post_messages(PAT, &body).await.status(),
        401,
        "a positive answer was cached"
    );
}

#[tokio::test]
async fn eu_gateway_accepts_eu_keys_and_refuses_us_ones() {
    let gateway = Gateway::start_with(|config| config.region = gateway::Region::Eu).await;
    let body = first_request("framework: next-js");
    assert_eq!(gateway.post_messages(EU_PAT, &body).await.status(), 200);
    assert_eq!(gateway.post_messages(PAT, &body).await.status(), 401);
}

#[tokio::test]
async fn wizard_client_ids_flag_decides_the_product_check() {
    let gateway =
        Gateway::start_with(|config| config.wizard_client_ids = vec!["some-other-app".to_owned()])
            .await;
    let body = first_request("framework: next-js");
    assert_eq!(
        gateway.post_messages(OTHER_APP_TOKEN, &body).await.status(),
        200
    );
    assert_eq!(
        gateway.post_messages(WIZARD_TOKEN, &body).await.status(),
        403
    );
}

/// A `MakeWriter` into a shared buffer: what the gateway logs during one
/// test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// If this fails, the gateway's own log prints a presented credential in
/// full when it refuses (or grants) a request; until now only the e2e
/// leak scan would have noticed.
#[tokio::test]
async fn the_log_masks_every_credential_it_refuses_or_grants() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    // The test's runtime is single-threaded: the gateway's tasks run on
    // this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let gateway = Gateway::start().await;
    let credentials = [
        PAT,
        PAT_WITHOUT_SCOPE,
        PAT_UNKNOWN,
        WIZARD_TOKEN,
        OTHER_APP_TOKEN,
        EU_PAT,
        SCOPELESS_WIZARD_TOKEN,
        BREAKS_INTROSPECTION,
        GARBLES_INTROSPECTION,
        "phe_test_fake_gateway_token_never_minted_0010",
        "phr_test_fake_refresh_token_at_the_gateway_0011",
        "phs_test_fake_mint_key_sent_as_a_credential_0012",
    ];
    for credential in credentials {
        for header in ["authorization", "x-api-key"] {
            let value = match header {
                "authorization" => format!("Bearer {credential}"),
                _ => credential.to_owned(),
            };
            gateway
                .http
                .post(gateway.messages_url())
                .header(header, value)
                .json(&first_request("framework: next-js"))
                .send()
                .await
                .unwrap();
        }
    }
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("refused a model request") && log.contains("phx_***"),
        "the refusals were logged, masked:\n{log}"
    );
    for credential in credentials {
        // The part after the prefix never shows, in full or in part.
        let secret = &credential[4..];
        assert!(
            !log.contains(secret),
            "{credential} leaked into the gateway's log:\n{log}"
        );
    }
}

/// A request id is caller-controlled text: one that is not a short token
/// of `[A-Za-z0-9._-]` (or that hides a credential) is replaced before it
/// reaches the journal, the log or introspection.
#[tokio::test]
async fn an_unacceptable_request_id_is_replaced_everywhere() {
    let gateway = Gateway::start().await;
    let secret = format!("phx_{}", "R".repeat(40));
    let presented = [
        secret.clone(),
        format!("oops-{secret}"),
        "two words".to_owned(),
        "r".repeat(129),
    ];
    let mut answered = Vec::new();
    for id in &presented {
        let response = gateway
            .http
            .post(gateway.messages_url())
            .header("x-api-key", PAT)
            .header("x-request-id", id.as_str())
            .json(&first_request("framework: next-js"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{id}");
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(id.starts_with("req_"), "a generated id, not {id}");
        answered.push(Some(id));
    }
    let forwarded: Vec<_> = gateway
        .introspection
        .seen()
        .into_iter()
        .map(|call| call.request_id)
        .collect();
    assert_eq!(forwarded, answered);
    let journal = gateway.journal_text().await;
    assert!(!journal.contains(&"R".repeat(40)), "{journal}");
    assert!(!journal.contains("two words"), "{journal}");
}
