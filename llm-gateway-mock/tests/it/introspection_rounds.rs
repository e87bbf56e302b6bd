//! Introspection rounds (`llm-gateway-mock/src/introspection.rs`): requests
//! presenting one credential at once share a trip to introspection, and
//! never an answer older than themselves.

use std::sync::Arc;

use gateway::introspection::{IntrospectionClient, IntrospectionError};
use protocol::oauth::{DEV_INTROSPECTION_CLIENT_ID, DEV_INTROSPECTION_CLIENT_SECRET};

use crate::support::*;

/// If this fails, requests that arrive while an introspection is under
/// way either each make a trip of their own (the gateway's hop is not
/// shared), or share the answer of the introspection already sent, which
/// may predate a revocation they came after.
#[tokio::test]
async fn requests_at_once_share_the_next_round_never_the_one_under_way() {
    let (fake, url) = start_introspection().await;
    let hold = Arc::new(tokio::sync::Semaphore::new(0));
    *fake.hold.lock().unwrap() = Some(hold.clone());
    let client = IntrospectionClient::new(
        url,
        DEV_INTROSPECTION_CLIENT_ID.to_owned(),
        DEV_INTROSPECTION_CLIENT_SECRET.to_owned(),
    )
    .expect("a client");
    let arrived = fake.arrived.notified();
    let first = {
        let client = client.clone();
        tokio::spawn(async move { client.introspect(WIZARD_TOKEN, "first").await })
    };
    // The first introspection has been sent and answered "live", but its
    // answer is held on the way back.
    arrived.await;
    let later: Vec<_> = (0..5)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(
                async move { client.introspect(WIZARD_TOKEN, &format!("later-{n}")).await },
            )
        })
        .collect();
    // Each later request joins the next round before it waits (the test's
    // runtime has one thread: spawned tasks run when this one yields).
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    fake.revoke(WIZARD_TOKEN);
    hold.add_permits(2);
    let first = first.await.expect("joins").expect("answered");
    assert!(first.active, "sent before the revocation");
    for request in later {
        let answer = request.await.expect("joins").expect("answered");
        assert!(
            !answer.active,
            "a request that came later sees the revocation"
        );
    }
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "one round under way, one shared by the rest");
    assert_eq!(seen[1].request_id.as_deref(), Some("later-0"));
}

/// If this fails, a lone request waits for a round that never starts, or
/// the rounds of one credential hold up another's.
#[tokio::test]
async fn lone_requests_and_other_credentials_go_at_once() {
    let (fake, url) = start_introspection().await;
    let client = IntrospectionClient::new(
        url,
        DEV_INTROSPECTION_CLIENT_ID.to_owned(),
        DEV_INTROSPECTION_CLIENT_SECRET.to_owned(),
    )
    .expect("a client");
    for _ in 0..3 {
        assert!(
            client
                .introspect(PAT, "one")
                .await
                .expect("answered")
                .active
        );
    }
    let (a, b) = tokio::join!(
        client.introspect(PAT, "a"),
        client.introspect(PAT_UNKNOWN, "b")
    );
    assert!(a.expect("answered").active);
    assert!(!b.expect("answered").active);
    assert_eq!(fake.seen().len(), 5);
}

fn client_for(url: String) -> anyhow::Result<IntrospectionClient> {
    IntrospectionClient::new(
        url,
        DEV_INTROSPECTION_CLIENT_ID.to_owned(),
        DEV_INTROSPECTION_CLIENT_SECRET.to_owned(),
    )
}

/// If this fails, the gateway starts with an introspection URL it can
/// never reach (a TLS one: the hop is plain HTTP) instead of saying so.
#[test]
fn an_introspection_url_must_be_plain_http_with_a_host() {
    for url in [
        "https://127.0.0.1:1/oauth/introspect",
        "/oauth/introspect",
        "not a url",
    ] {
        let error = client_for(url.to_owned()).expect_err(url).to_string();
        assert!(error.contains(url), "{url}: {error}");
    }
    assert!(client_for("http://127.0.0.1:1/oauth/introspect".to_owned()).is_ok());
}

/// If this fails, an outage reads differently from one platform to the
/// next (the OS's errno text), or names nothing the operator can check.
#[tokio::test]
async fn a_refused_connection_names_the_url_and_the_kind_of_failure() {
    let url = closed_url().await;
    let error = client_for(url.clone())
        .unwrap()
        .introspect(PAT, "down")
        .await
        .expect_err("nothing listens");
    assert_eq!(
        error,
        IntrospectionError::Unreachable(format!("cannot connect to {url}: connection refused"))
    );
}

/// If this fails, a server that never answers holds the gateway's request
/// (and every request sharing its round) for ever instead of a 503.
#[tokio::test]
async fn an_answer_that_never_comes_times_out() {
    let (fake, url) = start_introspection().await;
    *fake.hold.lock().unwrap() = Some(Arc::new(tokio::sync::Semaphore::new(0)));
    let error = client_for(url)
        .unwrap()
        .with_timeout(std::time::Duration::from_millis(50))
        .introspect(PAT, "held")
        .await
        .expect_err("held for ever");
    assert_eq!(error, IntrospectionError::TimedOut);
}
