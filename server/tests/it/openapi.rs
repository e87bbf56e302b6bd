//! The OpenAPI document is generated from the same registrations that route
//! requests. If the committed `docs/openapi.json` differs from what the code
//! generates, a client generated from the committed file would be wrong:
//! review the change and regenerate it with `just bless`.

use std::path::PathBuf;

use crate::support::{Call, Server};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

fn generated() -> String {
    let mut text = serde_json::to_string_pretty(&server::openapi()).expect("document serialises");
    text.push('\n');
    text
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = generated();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(committed_path(), &generated).expect("docs/openapi.json is writable");
        return;
    }
    let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date with the routes: run `just bless` (UPDATE_OPENAPI=1 cargo test -p provisioning-server) and review the diff"
    );
}

#[test]
fn every_documented_operation_names_its_answers() {
    let document = serde_json::to_value(server::openapi()).unwrap();
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 10, "{paths:?}");
    for (path, item) in paths {
        assert!(
            !path.ends_with('/'),
            "{path}: documented paths carry no trailing slash"
        );
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().expect("responses");
            // A redirecting endpoint (a deep link's login) answers 302, a
            // form that redirects after its POST (sign-in, consent) 303; one
            // that creates (a gateway token) answers 201.
            assert!(
                ["200", "201", "302", "303"]
                    .iter()
                    .any(|status| responses.contains_key(*status)),
                "{method} {path} documents no 200 (or 201, or 302/303 for a redirect)"
            );
        }
    }
}

#[tokio::test]
async fn the_server_serves_its_document_with_and_without_a_slash() {
    let server = Server::current().await;
    let answer = server.send(Call::get("/openapi.json")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        serde_json::to_value(server::openapi()).unwrap()
    );
    let slashed = server.send(Call::get("/api/users/@me/")).await;
    let bare = server.send(Call::get("/api/users/@me")).await;
    assert_eq!(slashed.status, 401);
    assert_eq!(slashed.json(), bare.json());
}
