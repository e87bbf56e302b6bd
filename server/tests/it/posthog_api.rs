//! The PostHog API subset (protocol section 5): `GET /api/users/@me/` and
//! `GET /api/projects/{id}/`, and how they refuse a credential.

use std::collections::BTreeSet;

use axum::http::StatusCode;

use protocol::paths;

use crate::support::*;

/// If this fails, the wizard cannot tell a person whether their key is
/// unknown, revoked or expired: it would print the same advice for all three.
#[tokio::test]
async fn unknown_revoked_and_expired_credentials_are_told_apart() {
    let server = Server::current().await;
    let revoked = server.tokens(None).await;
    tokens_of(server.refresh(&revoked.refresh, None).await);
    let expired = server.tokens(None).await;
    server.state.clock.advance(3601).unwrap();
    let unknown = format!("pha_{}", "A".repeat(43));
    let mut details = BTreeSet::new();
    for (name, credential, word) in [
        ("unknown", unknown.as_str(), "unknown"),
        ("revoked", revoked.access.as_str(), "revoked"),
        ("expired", expired.access.as_str(), "expired"),
    ] {
        for path in [paths::USERS_ME.to_owned(), paths::project(1)] {
            let answer = server.send(Call::get(&path).bearer(credential)).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{name} {path}: {}",
                answer.text()
            );
            let (code, detail) = envelope(Family::Detail, &answer.json());
            assert_eq!(code, "authentication_failed", "{name}");
            assert!(detail.contains(word), "{name}: {detail}");
            assert!(
                !detail.contains(&credential[4..]),
                "{name}: the detail echoes the secret"
            );
            details.insert(detail);
        }
    }
    assert_eq!(details.len(), 3, "three distinct details: {details:?}");
}

/// If this fails, the April 2026 bug is told wrongly: PostHog's API refuses
/// a scopeless access token outright (APIScopePermission: "OAuth token has
/// no scopes"), but lets a scopeless personal key through as a legacy key,
/// so the April server's scopeless phx_ reads the project and is refused
/// only at the gateway.
#[tokio::test]
async fn a_scopeless_token_is_forbidden_and_a_scopeless_personal_key_is_a_legacy_key() {
    let server = Server::legacy().await;
    let tokens = server.tokens(None).await;
    assert_eq!(tokens.answer["scope"], "");
    let team = tokens.answer["account"]["available_teams"][0]["id"]
        .as_i64()
        .unwrap();
    let key = server.provision(&tokens.access).await.json()["complete"]["access_configuration"]
        ["personal_api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [paths::USERS_ME.to_owned(), paths::project(team)] {
        let answer = server.send(Call::get(&path).bearer(&tokens.access)).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            answer.text()
        );
        let body = answer.json();
        let (code, detail) = envelope(Family::Detail, &body);
        assert_eq!(code, "permission_denied");
        assert_eq!(
            detail,
            "OAuth token has no scopes and cannot access this resource"
        );
        if path == paths::USERS_ME {
            insta::assert_json_snapshot!("users_me_permission_denied", body);
        }
        let answer = server.send(Call::get(&path).bearer(&key)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{path} with the scopeless phx_: {}",
            answer.text()
        );
    }
    let introspection = server.introspect(&tokens.access).await.json();
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["scope"], "");
}

/// If this fails, a key without a scope the endpoint needs is let in, or
/// the refusal does not name the scope (PostHog's words).
#[tokio::test]
async fn a_key_without_the_scope_is_refused_naming_it_and_a_write_reads() {
    let server = Server::current().await;
    let tokens = server
        .tokens(Some(&["project:write", "llm_gateway:read"]))
        .await;
    let me = server
        .send(Call::get(paths::USERS_ME).bearer(&tokens.access))
        .await;
    assert_eq!(me.status, StatusCode::FORBIDDEN, "{}", me.text());
    assert_eq!(
        envelope(Family::Detail, &me.json()),
        (
            "permission_denied".to_owned(),
            "API key missing required scope 'user:read'".to_owned()
        )
    );
    let team = tokens.answer["account"]["available_teams"][0]["id"]
        .as_i64()
        .unwrap();
    let project = server
        .send(Call::get(paths::project(team)).bearer(&tokens.access))
        .await;
    assert_eq!(
        project.status,
        StatusCode::OK,
        "project:write reads: {}",
        project.text()
    );
}

/// If this fails, CI mode (`--api-key phx_… --project-id N`) cannot check
/// the key it was given, or a key would read a project it was not minted for.
#[tokio::test]
async fn a_personal_key_reads_its_own_project() {
    let server = Server::issuing_keys().await;
    let tokens = server.tokens(None).await;
    let team = tokens.answer["account"]["available_teams"][0]["id"]
        .as_i64()
        .unwrap();
    let key = server.provision(&tokens.access).await.json()["complete"]["access_configuration"]
        ["personal_api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = server
        .send(Call::get(paths::project(team)).bearer(&key))
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
    let me = server.send(Call::get(paths::USERS_ME).bearer(&key)).await;
    assert_eq!(me.json()["team"]["id"], team);
    let missing = server
        .send(Call::get(paths::project(team + 1000)).bearer(&key))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    envelope(Family::Detail, &missing.json());
}
