//! Injected faults: what the wizard meets when the network or the LLM
//! provider misbehaves. If one of these fails, a contributor setting up a
//! fault scenario gets a different failure than the one they asked for.

use protocol::admin::{Fault, FaultRule, FaultSettings};
use serde_json::{json, Value};

use crate::support::{first_request, Gateway, ADMIN_TOKEN, PAT, PAT_UNKNOWN};

fn rule(fault: Fault, count: Option<u32>) -> FaultRule {
    FaultRule {
        route: "messages".into(),
        fault,
        count,
        after: None,
        probability: None,
    }
}

async fn with_faults(rules: Vec<FaultRule>) -> Gateway {
    Gateway::start_with(|config| config.faults = FaultSettings { seed: 1, rules }).await
}

#[tokio::test]
async fn status_faults_answer_like_anthropic_and_then_stop() {
    let gateway = with_faults(vec![rule(
        Fault::Status {
            status: 529,
            retry_after_seconds: None,
        },
        Some(1),
    )])
    .await;
    let first = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(first.status(), 529);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "overloaded_error");
    let second = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(second.status(), 200, "a count of 1 fires once");
    let journal = gateway.journal_text().await;
    assert!(journal.contains("fault_injected"), "{journal}");
    assert!(journal.contains("status 529"), "{journal}");
}

#[tokio::test]
async fn a_429_carries_retry_after() {
    let gateway = with_faults(vec![rule(
        Fault::Status {
            status: 429,
            retry_after_seconds: Some(2),
        },
        None,
    )])
    .await;
    let answer = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(answer.status(), 429);
    assert_eq!(answer.headers()["retry-after"], "2");
}

#[tokio::test]
async fn faults_never_mask_an_auth_refusal() {
    let gateway = with_faults(vec![rule(Fault::Drop, None)]).await;
    let answer = gateway
        .post_messages(PAT_UNKNOWN, &first_request("framework: next-js"))
        .await;
    assert_eq!(
        answer.status(),
        401,
        "auth verdicts stay deterministic under faults"
    );
}

#[tokio::test]
async fn a_dropped_connection_gives_no_answer() {
    let gateway = with_faults(vec![rule(Fault::Drop, Some(1))]).await;
    let sent = reqwest::Client::new()
        .post(gateway.messages_url())
        .header("x-api-key", PAT)
        .json(&first_request("framework: next-js"))
        .send()
        .await;
    let whole = match sent {
        Err(_) => false,
        Ok(answer) => answer.bytes().await.is_ok(),
    };
    assert!(!whole, "a dropped connection must not deliver an answer");
    let next = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(next.status(), 200, "the gateway itself survives");
}

#[tokio::test]
async fn truncated_bodies_break_the_read_after_the_headers() {
    for fault in [Fault::Truncate, Fault::CutStream] {
        let gateway = with_faults(vec![rule(fault.clone(), None)]).await;
        let answer = gateway
            .post_messages(PAT, &first_request("framework: next-js"))
            .await;
        assert_eq!(answer.status(), 200, "{fault:?}: the headers arrive");
        assert!(
            answer.bytes().await.is_err(),
            "{fault:?}: the body must not arrive whole"
        );
    }
}

#[tokio::test]
async fn a_cut_stream_ends_before_message_stop() {
    let gateway = with_faults(vec![rule(Fault::CutStream, None)]).await;
    let mut request = first_request("framework: next-js");
    request["stream"] = json!(true);
    let mut answer = gateway.post_messages(PAT, &request).await;
    assert_eq!(answer.status(), 200);
    let mut received = Vec::new();
    let broke = loop {
        match answer.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(broke, "the stream must end in an error, not cleanly");
    let text = String::from_utf8_lossy(&received);
    assert!(text.contains("event: message_start"), "{text}");
    assert!(!text.contains("event: message_stop"), "{text}");
}

#[tokio::test]
async fn admin_route_replaces_lists_and_validates_faults() {
    let gateway = Gateway::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/_admin/faults", gateway.base);
    let set = http
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"seed": 9, "rules": [{"fault": {"kind": "status", "status": 500}, "count": 2}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let answer = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(answer.status(), 500);
    let listed: Value = http
        .get(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["rules"][0]["count"], 1, "{listed}");
    for bad in [
        json!({"rules": [{"fault": {"kind": "explode"}}]}),
        json!({"rules": [{"fault": {"kind": "status", "status": 200}}]}),
        json!({"rules": [{"fault": {"kind": "drop"}, "probability": 3.0}]}),
        json!({"rulez": []}),
    ] {
        let refused = http
            .post(&url)
            .bearer_auth(ADMIN_TOKEN)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{bad}");
    }
    let unauthorised = http
        .post(&url)
        .json(&json!({"rules": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    let cleared = http
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    let answer = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(answer.status(), 200);
}

/// If this fails, a scenario cannot place a crash at a known point of the
/// wizard's conversation without sleeping: the `hold` fault must keep an
/// authenticated request waiting, show it in `GET /_admin/held`, and let
/// it answer on `POST /_admin/release`.
#[tokio::test]
async fn a_held_request_waits_for_its_release() {
    let gateway = with_faults(vec![rule(Fault::Hold, Some(1))]).await;
    // `GET /_admin/held` or `POST /_admin/release`: how many are (were) held.
    let admin = |method: reqwest::Method, path: &'static str| {
        let request = gateway
            .http
            .request(method, format!("{}{path}", gateway.base))
            .bearer_auth(ADMIN_TOKEN);
        async move {
            let answer: protocol::admin::Held = request.send().await.unwrap().json().await.unwrap();
            answer.held
        }
    };
    let held = || admin(reqwest::Method::GET, protocol::paths::ADMIN_HELD);
    assert_eq!(held().await, 0);
    // An unknown key is refused at once: holds strike only authenticated
    // requests.
    let refused = gateway
        .post_messages(PAT_UNKNOWN, &first_request("framework: next-js"))
        .await;
    assert_eq!(refused.status(), 401);

    let waiting = tokio::spawn({
        let (http, url) = (gateway.http.clone(), gateway.messages_url());
        async move {
            http.post(url)
                .header("x-api-key", PAT)
                .json(&first_request("framework: next-js"))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    // A readiness signal, not a sleep: poll until the request is held.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while held().await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the request was never held"
        );
        tokio::task::yield_now().await;
    }
    assert!(!waiting.is_finished(), "a held request has no answer yet");
    let released = admin(reqwest::Method::POST, protocol::paths::ADMIN_RELEASE).await;
    assert_eq!(released, 1);
    assert_eq!(waiting.await.unwrap(), 200);
    assert_eq!(held().await, 0);
    // count = 1: the next request is not held.
    let next = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(next.status(), 200);
    let journal = gateway.journal_text().await;
    assert!(journal.contains("\"hold\""), "{journal}");
}
