//! Admin routes: guarded by the admin token, and the journal never holds a
//! full credential.

use protocol::admin::Journal;

use crate::support::*;

#[tokio::test]
async fn admin_routes_require_the_token() {
    let gateway = Gateway::start().await;
    let journal_url = format!("{}/_admin/journal", gateway.base);
    let reset_url = format!("{}/_admin/reset", gateway.base);
    assert_eq!(
        gateway
            .http
            .get(&journal_url)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        gateway
            .http
            .get(&journal_url)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        gateway.http.post(&reset_url).send().await.unwrap().status(),
        401
    );
    assert_eq!(
        gateway
            .http
            .get(&journal_url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn admin_routes_do_not_exist_without_the_flag() {
    let gateway = Gateway::start_with(|config| config.admin_token = None).await;
    let response = gateway
        .http
        .get(format!("{}/_admin/journal", gateway.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // FastAPI's own 404, as the real gateway answers an unknown path.
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"detail": "Not Found"}));
}

#[tokio::test]
async fn journal_records_each_verdict_with_masked_credentials() {
    let closed = closed_url().await;
    let gateway = Gateway::start().await;
    let down = Gateway::start_with(|config| config.introspection_url = closed).await;
    let body = first_request("framework: next-js");
    gateway
        .http
        .post(gateway.messages_url())
        .json(&body)
        .send()
        .await
        .unwrap();
    for credential in [
        "sk-ant-test-fake-0000000000000000",
        PAT_UNKNOWN,
        EU_PAT,
        PAT_WITHOUT_SCOPE,
        OTHER_APP_TOKEN,
        WIZARD_TOKEN,
    ] {
        gateway.post_messages(credential, &body).await;
    }
    gateway
        .http
        .post(gateway.messages_url())
        .header("x-api-key", PAT)
        .header("content-type", "application/json")
        .body(format!("{{\"model\": 7, \"echo\": \"{PAT}\"}}"))
        .send()
        .await
        .unwrap();
    down.post_messages(PAT, &body).await;

    let text = gateway.journal_text().await + &down.journal_text().await;
    assert!(
        protocol::credential::find_full_secrets(&text).is_empty(),
        "the journal leaks a credential: {text}"
    );
    let journal: Journal = serde_json::from_str(&gateway.journal_text().await).unwrap();
    let rows: Vec<String> = journal
        .entries
        .iter()
        .map(|entry| {
            format!(
                "{} {} {} {} {}",
                entry.status,
                entry.credential.as_deref().unwrap_or("-"),
                entry.verdict.as_deref().unwrap_or("-"),
                entry.method,
                entry.path
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "401 - missing_credential POST /wizard/v1/messages",
            "401 sk-a*** unknown_prefix POST /wizard/v1/messages",
            "401 phx_*** invalid_token POST /wizard/v1/messages",
            "401 phx_*** wrong_region POST /wizard/v1/messages",
            "401 phx_*** insufficient_scope POST /wizard/v1/messages",
            "403 pha_*** product_access_denied POST /wizard/v1/messages",
            "200 pha_*** granted POST /wizard/v1/messages",
            "400 phx_*** bad_request POST /wizard/v1/messages",
        ]
    );
    assert!(journal
        .entries
        .iter()
        .all(|entry| !entry.request_id.is_empty() && entry.at > 0));
    let down_journal: Journal = serde_json::from_str(&down.journal_text().await).unwrap();
    assert_eq!(
        down_journal.entries[0].verdict.as_deref(),
        Some("introspection_unavailable")
    );
    assert_eq!(down_journal.entries[0].status, 503);

    let reset = gateway
        .http
        .post(format!("{}/_admin/reset", gateway.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    let journal: Journal = serde_json::from_str(&gateway.journal_text().await).unwrap();
    assert!(journal.entries.is_empty());
}

/// If this fails, the live view shows no headers or bodies for a gateway
/// arrow, keeps them before anyone asked, or keeps a full credential.
#[tokio::test]
async fn the_live_view_gets_an_exchange_masked_once_it_asked() {
    let gateway = Gateway::start().await;
    let exchange = |id: &str| {
        gateway
            .http
            .get(format!("{}/_admin/exchanges/{id}", gateway.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    let mut body = first_request("framework: next-js");
    let before = gateway.post_messages(PAT, &body).await;
    let before_id = before.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(exchange(&before_id).await.unwrap().status(), 404);

    let watch = gateway
        .http
        .get(format!("{}/_admin/journal?watch=true", gateway.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    body["stream"] = serde_json::json!(true);
    let answer = gateway.post_messages(PAT, &body).await;
    assert_eq!(answer.status(), 200);
    let id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let events = answer.text().await.unwrap();
    assert!(events.contains("event: message_stop"), "streamed unchanged");
    // Refused without the token; a made-up id is 404.
    let anonymous = gateway.get(&format!("/_admin/exchanges/{id}")).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(exchange("req_unknown").await.unwrap().status(), 404);

    let kept = exchange(&id).await.unwrap();
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.headers()["cache-control"], "no-store");
    let text = kept.text().await.unwrap();
    assert!(!text.contains(PAT), "{text}");
    assert!(
        protocol::credential::find_full_secrets(&text).is_empty(),
        "{text}"
    );
    let detail: protocol::admin::ExchangeDetail = serde_json::from_str(&text).unwrap();
    let header = |name: &str| {
        detail
            .request_headers
            .iter()
            .find(|line| line.name == name)
            .map(|line| line.value.clone())
    };
    assert_eq!(header("x-api-key").as_deref(), Some("phx_***"));
    assert!(detail.request_body.contains("framework: next-js"), "{text}");
    assert!(
        detail
            .response_headers
            .iter()
            .any(|line| line.name == "content-type" && line.value == "text/event-stream"),
        "{text}"
    );
    assert!(
        detail.response_body.starts_with("event: message_start"),
        "the events' text: {text}"
    );
    assert!(detail.response_body.len() <= protocol::masking::BODY_EXCERPT + 64);

    // The admin routes' own exchanges are never kept; a reset forgets all.
    let reset = gateway
        .http
        .post(format!("{}/_admin/reset", gateway.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    let reset_id = reset.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(exchange(&reset_id).await.unwrap().status(), 404);
    assert_eq!(exchange(&id).await.unwrap().status(), 404);
}
