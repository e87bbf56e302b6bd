//! Many callers at once, over real loopback HTTP, against a file database in
//! WAL mode.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use reqwest::StatusCode;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use protocol::pkce::CodeVerifier;
use protocol::random::OsRandom;

use super::live::{signup, Client, InProcess};
use super::size;

/// Requests in flight at once for the N-signups load (a connection pool's
/// worth, as a busy deployment would see).
const IN_FLIGHT: usize = 32;

/// If this fails, a wizard retried in a hurry (or a crowd of them) makes
/// two accounts for one person, or a caller is left with a 500 or a reset
/// connection instead of an answer it can act on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_account_requests_for_one_email_make_one_account() {
    let callers = 200;
    let server = InProcess::start().await;
    let client = Client::new(&server.base);
    let baseline = client.admin_state().await;
    let mut tasks = JoinSet::new();
    for index in 0..callers {
        let client = client.clone();
        tasks.spawn(async move {
            let verifier = CodeVerifier::generate(&OsRandom);
            let id = format!("race_{index}");
            let answer = client
                .account_request(&id, "race@example.com", &verifier)
                .await;
            (answer, verifier)
        });
    }
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut winner = None;
    while let Some(joined) = tasks.join_next().await {
        let (answer, verifier) = joined.expect("the task ran");
        let (status, body) =
            answer.unwrap_or_else(|error| panic!("a caller got no answer: {error}"));
        let outcome = match status {
            StatusCode::OK => match body["type"].as_str() {
                Some("oauth") => {
                    let code = body["oauth"]["code"].as_str().expect("a code").to_owned();
                    winner = Some((code, verifier));
                    "200 oauth".to_owned()
                }
                Some("requires_auth") => "200 requires_auth".to_owned(),
                _ => panic!("a 200 that is neither oauth nor requires_auth: {body}"),
            },
            status if status.is_client_error() => format!("{status} {}", body["error"]["code"]),
            status => panic!("an undefined answer {status}: {body}"),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    eprintln!("{callers} account requests for one email: {outcomes:?}");
    assert_eq!(outcomes.get("200 oauth"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes.values().sum::<usize>(), callers);
    let state = client.admin_state().await;
    assert_eq!(
        (
            state.users - baseline.users,
            state.organizations - baseline.organizations,
            state.teams - baseline.teams,
        ),
        (1, 1, 1),
        "one email, one account"
    );
    // The one caller that got a code can finish its signup.
    let (code, verifier) = winner.expect("one caller got a code");
    let (status, body) = client
        .exchange(&code, verifier.as_str())
        .await
        .expect("the exchange answers");
    assert_eq!(status, StatusCode::OK, "{}", body["error"]);
}

/// If this fails, signups that arrive together interfere: one of them
/// ends without a token or key, or with another person's account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_emails_through_the_full_signup_each_get_a_complete_account() {
    let count = size(100, 1_000);
    let server = InProcess::start().await;
    let client = Client::new(&server.base);
    let baseline = client.admin_state().await;
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..count {
        let (client, gate) = (client.clone(), Arc::clone(&gate));
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("the gate is open");
            signup(&client, &format!("load{index}@example.com")).await
        });
    }
    let mut signups = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        let signup = joined.expect("the task ran");
        assert!(signup.is_complete(), "{signup:?}");
        signups.push(signup);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{count} full signups ({} requests, {IN_FLIGHT} in flight): {elapsed:.2?}, {:.0} signups/s",
        3 * count,
        count as f64 / elapsed.as_secs_f64()
    );

    let state = client.admin_state().await;
    let added = |now: i64, before: i64| usize::try_from(now - before).unwrap();
    assert_eq!(added(state.users, baseline.users), count);
    assert_eq!(added(state.organizations, baseline.organizations), count);
    assert_eq!(added(state.teams, baseline.teams), count);
    assert_eq!(added(state.access_tokens, baseline.access_tokens), count);
    assert_eq!(
        added(state.personal_api_keys, baseline.personal_api_keys),
        count
    );

    // Each key belongs to its own signup's account, not a neighbour's.
    let started = Instant::now();
    let mut checks = JoinSet::new();
    for signup in signups {
        let (client, gate) = (client.clone(), Arc::clone(&gate));
        checks.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("the gate is open");
            let key = signup.personal_api_key.as_deref().unwrap();
            let (status, body) = client.me(key).await;
            assert_eq!(status, StatusCode::OK, "{}: {body}", signup.email);
            assert_eq!(
                body["email"],
                signup.email.as_str(),
                "a key of another account"
            );
            assert!(client.is_active(signup.access.as_deref().unwrap()).await);
        });
    }
    while let Some(joined) = checks.join_next().await {
        joined.expect("every account checks out");
    }
    eprintln!(
        "{count} keys checked (/api/users/@me/ and introspection): {:.2?}",
        started.elapsed()
    );
}

/// If this fails, one authorization code raced by several clients yields
/// several token pairs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_redeemed_concurrently_over_http_succeeds_once() {
    let racers = size(20, 200);
    let server = InProcess::start().await;
    let client = Client::new(&server.base);
    let verifier = CodeVerifier::generate(&OsRandom);
    let (status, body) = client
        .account_request("once", "once@example.com", &verifier)
        .await
        .expect("the account request answers");
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = body["oauth"]["code"].as_str().expect("a code").to_owned();
    let verifier = verifier.as_str().to_owned();
    let mut tasks = JoinSet::new();
    for _ in 0..racers {
        let (client, code, verifier) = (client.clone(), code.clone(), verifier.clone());
        tasks.spawn(async move { client.exchange(&code, &verifier).await });
    }
    let mut successes = 0;
    while let Some(joined) = tasks.join_next().await {
        let (status, body) = joined
            .expect("the task ran")
            .unwrap_or_else(|error| panic!("an exchange got no answer: {error}"));
        match status {
            StatusCode::OK => successes += 1,
            StatusCode::BAD_REQUEST => assert_eq!(body["error"], "invalid_grant", "{body}"),
            status => panic!("an undefined answer {status}: {body}"),
        }
    }
    assert_eq!(successes, 1, "{racers} racers");
    assert_eq!(client.admin_state().await.access_tokens, 1);
}
