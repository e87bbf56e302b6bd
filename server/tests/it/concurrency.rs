//! Concurrency sanity (bounded and quick): the two places where a race
//! would make a visible mess.

use std::sync::Arc;

use axum::http::StatusCode;
use tokio::task::JoinSet;

use protocol::paths;
use serde_json::json;

use crate::support::*;

/// If this fails, a wizard that retries a slow signup (or two terminals
/// signing up one email) makes two accounts for one person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_account_requests_for_one_email_make_one_user() {
    for storage in [Storage::Memory, Storage::File] {
        let options = Options {
            storage,
            ..Options::new("current")
        };
        let server = Arc::new(Server::start(options).await);
        let mut tasks = JoinSet::new();
        for _ in 0..20 {
            let server = Arc::clone(&server);
            let body = server.account_request("race@example.com", None, &server.verifier());
            tasks.spawn(async move {
                server
                    .send(Call::post(paths::ACCOUNT_REQUESTS).version().json(&body))
                    .await
            });
        }
        let mut kinds = Vec::new();
        while let Some(answer) = tasks.join_next().await {
            let answer = answer.expect("the task ran");
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{storage:?}: {}",
                answer.text()
            );
            kinds.push(answer.json()["type"].as_str().unwrap().to_owned());
        }
        // The first creates the account; the others find an existing user
        // and, as a public client, must send the person to sign in.
        assert_eq!(
            kinds.iter().filter(|kind| *kind == "oauth").count(),
            1,
            "{storage:?}: {kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|kind| *kind == "requires_auth").count(),
            19,
            "{storage:?}"
        );
        let state = server.admin_state().await;
        assert_eq!(
            (state.users, state.organizations, state.teams),
            (1, 1, 1),
            "{storage:?}"
        );
    }
}

/// If this fails, one authorization code could be exchanged for several
/// token pairs by racing requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_exchanges_of_one_code_succeed_once() {
    for storage in [Storage::Memory, Storage::File] {
        let options = Options {
            storage,
            ..Options::new("current")
        };
        let server = Arc::new(Server::start(options).await);
        let (code, verifier) = server.signup(None).await;
        let verifier = verifier.as_str().to_owned();
        let mut tasks = JoinSet::new();
        for _ in 0..10 {
            let server = Arc::clone(&server);
            let (code, verifier) = (code.clone(), verifier.clone());
            tasks.spawn(async move { server.exchange(&code, &verifier).await });
        }
        let mut statuses = Vec::new();
        while let Some(answer) = tasks.join_next().await {
            let answer = answer.expect("the task ran");
            if answer.status != StatusCode::OK {
                let (code, _) = envelope(Family::OAuth, &answer.json());
                assert_eq!(code, "invalid_grant", "{storage:?}");
            }
            statuses.push(answer.status.as_u16());
        }
        assert_eq!(
            statuses.iter().filter(|status| **status == 200).count(),
            1,
            "{storage:?}: {statuses:?}"
        );
        assert_eq!(server.admin_state().await.access_tokens, 1, "{storage:?}");
    }
}

/// Sixteen copies of one request (same partner, same `id`, same body) sent
/// at once, the way a client retrying on a short timeout sends them.
async fn sixteen_copies(server: &Arc<Server>, call: impl Fn() -> Call) -> Vec<Answer> {
    let mut tasks = JoinSet::new();
    for _ in 0..16 {
        let server = Arc::clone(server);
        let call = call();
        tasks.spawn(async move { server.send(call).await });
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.expect("the task ran"));
    }
    answers
}

/// If this fails, a partner retrying an account request in a hurry gets
/// several codes for one request (each exchangeable), or a PKCE caller is
/// told to sign in to the passwordless account its own first copy just
/// created, and every later retry replays that dead end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_of_one_account_request_get_one_byte_identical_answer() {
    for storage in [Storage::Memory, Storage::File] {
        let server = Arc::new(
            Server::start(Options {
                storage,
                ..Options::new("current").partner()
            })
            .await,
        );
        let verifier = server.verifier();
        let pkce = server.account_request("copies@example.com", None, &verifier);
        let signed = json!({"id": "acctreq_signed_copies", "email": "signed-copies@example.com"})
            .to_string();
        let signature = server.signature(signed.as_bytes(), 0);
        for (caller, answers) in [
            (
                "pkce",
                sixteen_copies(&server, || {
                    Call::post(paths::ACCOUNT_REQUESTS).version().json(&pkce)
                })
                .await,
            ),
            (
                "signed",
                sixteen_copies(&server, || {
                    Call::post(paths::ACCOUNT_REQUESTS)
                        .version()
                        .header(protocol::signature::HEADER, signature.clone())
                        .raw(Some("application/json"), signed.clone())
                })
                .await,
            ),
        ] {
            let first = &answers[0];
            assert_eq!(
                first.status,
                StatusCode::OK,
                "{storage:?} {caller}: {}",
                first.text()
            );
            assert_eq!(
                first.json()["type"],
                "oauth",
                "{storage:?} {caller}: {}",
                first.text()
            );
            for answer in &answers {
                assert_eq!(
                    (answer.status, &answer.body),
                    (first.status, &first.body),
                    "{storage:?} {caller}: every copy gets the first answer, byte for byte"
                );
            }
        }
        let state = server.admin_state().await;
        assert_eq!(
            (state.users, state.authorization_codes),
            (2, 2),
            "{storage:?}: one account and one code per request"
        );
        // One code per request: the PKCE one exchanges once.
        let pkce_answer = server
            .send(Call::post(paths::ACCOUNT_REQUESTS).version().json(&pkce))
            .await;
        let code = pkce_answer.json()["oauth"]["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let tokens = tokens_of(server.exchange(&code, verifier.as_str()).await);
        assert!(!tokens.access.is_empty());
        assert_eq!(server.admin_state().await.access_tokens, 1, "{storage:?}");
    }
}

/// If this fails, one refresh token presented by two parties at once (a
/// thief and its owner) rotates once and the winner keeps a live pair:
/// the loser's refusal must revoke the family, whoever won (RFC 9700
/// section 4.14.2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_rotate_once_then_revoke_the_family() {
    for storage in [Storage::Memory, Storage::File] {
        let server = Arc::new(
            Server::start(Options {
                storage,
                ..Options::new("current")
            })
            .await,
        );
        let first = server.tokens(None).await;
        let mut tasks = JoinSet::new();
        for _ in 0..8 {
            let (server, refresh) = (Arc::clone(&server), first.refresh.clone());
            tasks.spawn(async move { server.refresh(&refresh, None).await });
        }
        let mut winners = Vec::new();
        while let Some(answer) = tasks.join_next().await {
            let answer = answer.expect("the task ran");
            match answer.status {
                StatusCode::OK => winners.push(tokens_of(answer)),
                _ => {
                    let (code, _) = envelope(Family::OAuth, &answer.json());
                    assert_eq!(code, "invalid_grant", "{storage:?}");
                }
            }
        }
        assert_eq!(winners.len(), 1, "{storage:?}: one rotation");
        let winner = &winners[0];
        assert_eq!(
            server.introspect(&winner.access).await.text(),
            r#"{"active":false}"#,
            "{storage:?}: the winner's pair dies with its family"
        );
        assert_eq!(
            server.refresh(&winner.refresh, None).await.status,
            StatusCode::BAD_REQUEST,
            "{storage:?}"
        );
    }
}
