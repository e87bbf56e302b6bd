//! The holder index (`server/src/db/holder_index.rs`): a credential looked
//! up is kept in memory, and every write that may change what it grants
//! makes the next request read it afresh.

use axum::http::StatusCode;

use protocol::paths;

use crate::support::*;

fn active(answer: &Answer) -> bool {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()["active"] == true
}

/// If this fails, the hot writes of a signup (a new account, its code, its
/// tokens, counters) empty the index, and every lookup reads the database
/// while anyone signs up.
#[tokio::test]
async fn signups_leave_kept_holders_kept() {
    let server = Server::current().await;
    let first = server.tokens(None).await;
    assert!(active(&server.introspect(&first.access).await));
    assert_eq!(server.state.db.kept_holders(), 1);
    let second = server.tokens(None).await;
    assert_eq!(
        server.provision(&second.access).await.status,
        StatusCode::OK
    );
    assert_eq!(server.state.db.kept_holders(), 2);
    assert!(active(&server.introspect(&first.access).await));
}

/// If this fails, a refreshed (rotated) access token stays live for as
/// long as it is kept.
#[tokio::test]
async fn a_kept_token_rotated_away_is_refused_on_the_next_request() {
    let server = Server::current().await;
    let tokens = server.tokens(None).await;
    assert!(active(&server.introspect(&tokens.access).await));
    let refreshed = tokens_of(server.refresh(&tokens.refresh, None).await);
    assert!(!active(&server.introspect(&tokens.access).await));
    assert!(active(&server.introspect(&refreshed.access).await));
}

/// If this fails, a replayed code revokes its family in the database but
/// the family's kept tokens go on being let in.
#[tokio::test]
async fn a_kept_token_of_a_replayed_code_is_refused_on_the_next_request() {
    let server = Server::current().await;
    let (code, verifier) = server.signup(None).await;
    let tokens = tokens_of(server.exchange(&code, verifier.as_str()).await);
    assert!(active(&server.introspect(&tokens.access).await));
    let replay = server.exchange(&code, verifier.as_str()).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.text());
    assert!(!active(&server.introspect(&tokens.access).await));
}

/// If this fails, a kept `/api/users/@me/` answer outlives a change to the
/// team it names, or a kept answer differs from a fresh one.
#[tokio::test]
async fn a_kept_answer_is_forgotten_with_its_holder() {
    let server = Server::current().await;
    let tokens = server.tokens(None).await;
    let me = || server.send(Call::get(paths::USERS_ME).bearer(&tokens.access));
    let first = me().await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.header("content-type"), Some("application/json"));
    let again = me().await;
    assert_eq!(again.body, first.body);
    let team = first.json()["team"]["id"].as_i64().expect("a team id");
    server
        .state
        .db
        .rename_team(team, "Renamed")
        .await
        .expect("renames");
    let renamed = me().await;
    assert_eq!(renamed.json()["team"]["name"], "Renamed");
    let mut expected = first.json();
    expected["team"]["name"] = "Renamed".into();
    assert_eq!(renamed.json(), expected);
}

/// If this fails, the token an exchange mints is not kept at once (the
/// signup's resources call reads it from the database), or the holder kept
/// at the exchange differs from the one a read of the database finds.
#[tokio::test]
async fn a_minted_token_is_kept_as_a_read_would_find_it() {
    let server = Server::current().await;
    let db = &server.state.db;
    let same_as_stored = |access: String| async move {
        let hash = protocol::credential::hash_secret(&access);
        let kept = db.access_token_holder(&hash).await.unwrap().expect("kept");
        let stored = db
            .stored_access_token_holder(&hash)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(kept.grant, stored.grant);
        assert_eq!(kept.user, stored.user);
        assert_eq!(kept.teams, stored.teams);
    };
    let first = server.tokens(None).await;
    assert_eq!(db.kept_holders(), 1, "kept by the exchange");
    let second = server.tokens(Some(&["user:read"])).await;
    assert_eq!(db.kept_holders(), 2);
    same_as_stored(first.access).await;
    same_as_stored(second.access).await;
}
