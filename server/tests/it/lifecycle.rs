//! A resource after its creation (protocol section 4): rotating its
//! credentials, removing it, and deep links into it.

use axum::http::StatusCode;
use serde_json::{json, Value};

use protocol::paths;
use protocol::scope::WIZARD_SIGNUP_SCOPES;

use crate::support::*;

fn rotate_path(id: &str) -> String {
    format!("{}/{id}/rotate_credentials", paths::RESOURCES)
}

fn remove_path(id: &str) -> String {
    format!("{}/{id}/remove", paths::RESOURCES)
}

/// A signed-up wizard user with a provisioned resource.
struct Provisioned {
    tokens: Tokens,
    team_id: i64,
    api_key: String,
    personal_key: String,
}

async fn provisioned(server: &Server) -> Provisioned {
    let tokens = server.tokens(Some(&WIZARD_SIGNUP_SCOPES)).await;
    let answer = server.provision(&tokens.access).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    let access = &body["complete"]["access_configuration"];
    Provisioned {
        team_id: body["id"].as_str().unwrap().parse().unwrap(),
        api_key: access["api_key"].as_str().unwrap().to_owned(),
        personal_key: access["personal_api_key"].as_str().unwrap().to_owned(),
        tokens,
    }
}

async fn active(server: &Server, credential: &str) -> bool {
    let answer = server.introspect(credential).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()["active"] == true
}

async fn post(server: &Server, path: &str, access: &str) -> Answer {
    server
        .send(Call::post(path).version().bearer(access).json(&json!({})))
        .await
}

async fn read(server: &Server, id: i64, access: &str) -> Answer {
    server
        .send(
            Call::get(format!("{}/{id}", paths::RESOURCES))
                .version()
                .bearer(access),
        )
        .await
}

/// If this fails, a leaked key survives its rotation: the gateway would
/// keep serving the old `phx_`, or read-back would still show the old `phc_`.
#[tokio::test]
async fn rotation_replaces_both_keys_and_kills_the_old_ones_at_once() {
    let server = Server::issuing_keys().await;
    let first = provisioned(&server).await;
    // A second provisioning of the same team: two live minted keys.
    let second_key = server.provision(&first.tokens.access).await.json()["complete"]
        ["access_configuration"]["personal_api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    // A key the user made outside provisioning (no partner): kept.
    let own_key = protocol::credential::Credential::generate(
        protocol::credential::CredentialKind::PersonalApiKey,
        &protocol::random::SeededRandom::new(99),
    );
    let user_id = server
        .state
        .db
        .user_by_email("person0@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    server
        .state
        .db
        .insert_personal_key(&server::db::NewPersonalKey {
            key_hash: own_key.hash(),
            masked: own_key.masked(),
            user_id,
            team_id: first.team_id,
            client_id: None,
            scopes: "llm_gateway:read".into(),
            code_hash: None,
            now: NOW,
            expires_at: None,
        })
        .await
        .unwrap();
    // Someone else's key, on another team: untouched.
    let stranger = provisioned(&server).await;

    let answer = post(
        &server,
        &rotate_path(&first.team_id.to_string()),
        &first.tokens.access,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["status"], "complete");
    assert_eq!(body["id"], first.team_id.to_string());
    assert_eq!(body["service_id"], "analytics");
    let access = &body["complete"]["access_configuration"];
    let new_api_key = access["api_key"].as_str().unwrap();
    let new_key = access["personal_api_key"].as_str().unwrap();
    assert!(new_api_key.starts_with("phc_") && new_api_key != first.api_key);
    assert!(new_key.starts_with("phx_") && new_key != first.personal_key);
    assert_eq!(access["host"], PUBLIC_URL);

    assert!(!active(&server, &first.personal_key).await, "old phx_ A");
    assert!(
        !active(&server, &second_key).await,
        "old phx_ from a second provisioning"
    );
    assert!(active(&server, new_key).await, "new phx_");
    assert!(
        active(&server, own_key.expose()).await,
        "a key provisioning did not mint"
    );
    assert!(
        active(&server, &stranger.personal_key).await,
        "another user's key"
    );
    // The new key carries the application's ceiling (era `ceilings`), not
    // just the token's scopes.
    let introspected = server.introspect(new_key).await.json();
    assert_eq!(
        introspected["scope"],
        protocol::scope::WIZARD_APPLICATION_CEILING.join(" ")
    );

    // Read-back shows the new phc_ only, and no phx_.
    let read_back = read(&server, first.team_id, &first.tokens.access)
        .await
        .json();
    assert_eq!(
        read_back["complete"]["access_configuration"]["api_key"],
        new_api_key
    );
    assert!(read_back["complete"]["access_configuration"]
        .get("personal_api_key")
        .is_none());
    assert!(!read_back.to_string().contains(&first.api_key));

    // Rotating again kills the key the first rotation gave.
    let again = post(
        &server,
        &rotate_path(&first.team_id.to_string()),
        &first.tokens.access,
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(
        !active(&server, new_key).await,
        "phx_ of the first rotation"
    );
}

/// If this fails, a removed project keeps answering, or its keys keep
/// working after the partner deleted it.
#[tokio::test]
async fn removal_hides_the_team_and_revokes_its_keys() {
    let server = Server::issuing_keys().await;
    let resource = provisioned(&server).await;
    let id = resource.team_id.to_string();
    let access = &resource.tokens.access;

    let answer = post(&server, &remove_path(&id), access).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"status": "removed", "id": id}));

    assert!(!active(&server, &resource.personal_key).await);
    let read_back = read(&server, resource.team_id, access).await;
    assert_eq!(
        read_back.status,
        StatusCode::NOT_FOUND,
        "{}",
        read_back.text()
    );
    for path in [remove_path(&id), rotate_path(&id)] {
        let answer = post(&server, &path, access).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            answer.text()
        );
        let (code, _) = envelope(Family::Resource, &answer.json());
        assert_eq!(code, "not_found");
    }
}

/// One refused rotate or remove: the id in the path, who asks, and the
/// status, code and envelope expected.
struct Refusal {
    label: &'static str,
    id: String,
    bearer: Option<String>,
    api_version: bool,
    status: StatusCode,
    code: &'static str,
}

async fn check_refusal(server: &Server, endpoint: fn(&str) -> String, case: &Refusal) {
    let path = endpoint(&case.id);
    let mut call = Call::post(&path).json(&json!({}));
    if case.api_version {
        call = call.version();
    }
    if let Some(bearer) = &case.bearer {
        call = call.bearer(bearer);
    }
    let answer = server.send(call).await;
    let label = format!("{} ({path})", case.label);
    assert_eq!(answer.status, case.status, "{label}: {}", answer.text());
    let family = match case.code {
        "invalid_api_version" => Family::Plain,
        _ => Family::Resource,
    };
    let body = answer.json();
    let (code, message) = envelope(family, &body);
    assert_eq!(code, case.code, "{label}: {body}");
    assert!(
        protocol::credential::find_full_secrets(&body.to_string()).is_empty(),
        "{label}: {message}"
    );
}

/// If this fails, a partner can rotate or remove someone else's project,
/// or gets an error it cannot tell apart.
#[tokio::test]
async fn rotate_and_remove_refusals() {
    let server = Server::issuing_keys().await;
    let own = provisioned(&server).await;
    let foreign = provisioned(&server).await;
    let access = Some(own.tokens.access.clone());
    let cases = [
        Refusal {
            label: "a non-integer id",
            id: "abc".into(),
            bearer: access.clone(),
            api_version: true,
            status: StatusCode::BAD_REQUEST,
            code: "invalid_resource_id",
        },
        Refusal {
            label: "a credential pasted as the id",
            id: own.personal_key.clone(),
            bearer: access.clone(),
            api_version: true,
            status: StatusCode::BAD_REQUEST,
            code: "invalid_resource_id",
        },
        Refusal {
            label: "another user's team",
            id: foreign.team_id.to_string(),
            bearer: access.clone(),
            api_version: true,
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
        },
        Refusal {
            label: "no such team",
            id: "999999".into(),
            bearer: access.clone(),
            api_version: true,
            status: StatusCode::NOT_FOUND,
            code: "not_found",
        },
        Refusal {
            label: "no token",
            id: own.team_id.to_string(),
            bearer: None,
            api_version: true,
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
        },
        Refusal {
            label: "a phx_ instead of a pha_",
            id: own.team_id.to_string(),
            bearer: Some(own.personal_key.clone()),
            api_version: true,
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
        },
        Refusal {
            label: "no API-Version",
            id: own.team_id.to_string(),
            bearer: access.clone(),
            api_version: false,
            status: StatusCode::BAD_REQUEST,
            code: "invalid_api_version",
        },
    ];
    for endpoint in [rotate_path as fn(&str) -> String, remove_path] {
        for case in &cases {
            check_refusal(&server, endpoint, case).await;
        }
    }
    // Nothing was rotated or removed by the refusals.
    assert!(active(&server, &own.personal_key).await);
    assert!(active(&server, &foreign.personal_key).await);
}

async fn deep_link(server: &Server, access: &str, body: Value) -> Answer {
    server
        .send(
            Call::post(paths::DEEP_LINKS)
                .version()
                .bearer(access)
                .json(&body),
        )
        .await
}

/// The path and query of a deep link's URL, to follow it in process.
fn login_target(url: &str) -> String {
    url.strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("{url} is not on {PUBLIC_URL}"))
        .to_owned()
}

/// A deep link's first follow redirects to `Ok(location)`, or the request
/// is refused with `Err((status, code))` in the plain envelope.
type Expected = Result<String, (StatusCode, &'static str)>;

/// One deep link request and what must come of it: `Ok(location)` (the
/// redirect the link's first follow answers) or `Err(code)` (a 400/403 in
/// the plain envelope).
async fn check_deep_link(
    server: &Server,
    resource: &Provisioned,
    label: &str,
    body: Value,
    expected: Expected,
) {
    let answer = deep_link(server, &resource.tokens.access, body).await;
    match expected {
        Ok(location) => {
            assert_eq!(answer.status, StatusCode::OK, "{label}: {}", answer.text());
            let json = answer.json();
            assert_eq!(json["purpose"], "dashboard", "{label}");
            assert_eq!(
                json["expires_at"],
                server::clock::rfc3339(server.state.clock.now() + 600),
                "{label}"
            );
            let url = json["url"].as_str().unwrap();
            let expected_prefix = format!("{PUBLIC_URL}/agentic/login?token=");
            assert!(url.starts_with(&expected_prefix), "{label}: {url}");
            assert!(
                url.ends_with(&format!("&team_id={}", resource.team_id)),
                "{label}: {url}"
            );
            let followed = server.send(Call::get(login_target(url))).await;
            assert_eq!(
                followed.status,
                StatusCode::FOUND,
                "{label}: {}",
                followed.text()
            );
            assert_eq!(
                followed.header("location"),
                Some(location.as_str()),
                "{label}"
            );
            assert_eq!(
                followed.header("cache-control"),
                Some("no-store"),
                "{label}"
            );
            // Signed in: a session cookie (test_valid_token_creates_session).
            assert!(
                followed
                    .header("set-cookie")
                    .is_some_and(|cookie| cookie.starts_with("posthog_session=")),
                "{label}: {:?}",
                followed.header("set-cookie")
            );
        }
        Err((status, code)) => {
            assert_eq!(answer.status, status, "{label}: {}", answer.text());
            let (found, _) = envelope(Family::Plain, &answer.json());
            assert_eq!(found, code, "{label}");
        }
    }
}

/// If this fails, a partner's deep link can send a person off PostHog (an
/// open redirect), or a valid link does not land on the project.
#[tokio::test]
async fn deep_link_paths_stay_inside_the_app() {
    let server = Server::issuing_keys().await;
    let resource = provisioned(&server).await;
    let project = format!("/project/{}", resource.team_id);
    let bad = (StatusCode::BAD_REQUEST, "invalid_request");
    let cases: Vec<(&str, Value, Expected)> = vec![
        (
            "no path",
            json!({"purpose": "dashboard"}),
            Ok(project.clone()),
        ),
        (
            "a relative path with a query",
            json!({"purpose": "dashboard", "path": "/insights/new?x=1#top"}),
            Ok("/insights/new?x=1#top".into()),
        ),
        (
            "unknown fields are ignored",
            json!({"purpose": "dashboard", "colour": "red"}),
            Ok(project.clone()),
        ),
        (
            "an absolute URL",
            json!({"purpose": "dashboard", "path": "https://evil.example"}),
            Err(bad),
        ),
        (
            "protocol-relative",
            json!({"purpose": "dashboard", "path": "//evil.example"}),
            Err(bad),
        ),
        (
            "a backslash",
            json!({"purpose": "dashboard", "path": "/\\evil"}),
            Err(bad),
        ),
        (
            "an encoded backslash",
            json!({"purpose": "dashboard", "path": "/%5cevil"}),
            Err(bad),
        ),
        (
            "encoded slashes",
            json!({"purpose": "dashboard", "path": "/%2fevil.example"}),
            Err(bad),
        ),
        (
            "a .. segment",
            json!({"purpose": "dashboard", "path": "/project/../admin"}),
            Err(bad),
        ),
        (
            "an encoded .. segment",
            json!({"purpose": "dashboard", "path": "/%2e%2E/admin"}),
            Err(bad),
        ),
        (
            "a scheme",
            json!({"purpose": "dashboard", "path": "javascript:alert(1)"}),
            Err(bad),
        ),
        (
            "a newline",
            json!({"purpose": "dashboard", "path": "/a\r\nSet-Cookie: x=1"}),
            Err(bad),
        ),
        (
            "an encoded newline",
            json!({"purpose": "dashboard", "path": "/a%0d%0ab"}),
            Err(bad),
        ),
        (
            "a tab",
            json!({"purpose": "dashboard", "path": "/\tevil"}),
            Err(bad),
        ),
        (
            "an empty path",
            json!({"purpose": "dashboard", "path": ""}),
            Err(bad),
        ),
        (
            "non-ASCII",
            json!({"purpose": "dashboard", "path": "/projé"}),
            Err(bad),
        ),
        (
            "too long",
            json!({"purpose": "dashboard", "path": format!("/{}", "a".repeat(2048))}),
            Err(bad),
        ),
        (
            "an unknown purpose",
            json!({"purpose": "billing"}),
            Err(bad),
        ),
        ("no purpose", json!({"path": "/x"}), Err(bad)),
        (
            "a mistyped path",
            json!({"purpose": "dashboard", "path": 7}),
            Err(bad),
        ),
    ];
    for (label, body, expected) in cases {
        check_deep_link(&server, &resource, label, body, expected).await;
    }
}

/// If this fails, a deep link works twice or after its 600 s, or a person
/// who followed a dead link is not told why.
#[tokio::test]
async fn deep_links_are_single_use_and_expire() {
    let server = Server::issuing_keys().await;
    let resource = provisioned(&server).await;
    let issue = || async {
        let answer = deep_link(
            &server,
            &resource.tokens.access,
            json!({"purpose": "dashboard"}),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        login_target(answer.json()["url"].as_str().unwrap())
    };
    let follow = |target: String| {
        let server = &server;
        async move { server.send(Call::get(target)).await }
    };

    let used = issue().await;
    let first = follow(used.clone()).await;
    assert_eq!(first.status, StatusCode::FOUND);
    let again = follow(used).await;
    assert_eq!(again.status, StatusCode::FOUND);
    assert_eq!(
        again.header("location"),
        Some("/?error=expired_or_invalid_token")
    );
    let home = server
        .send(Call::get("/?error=expired_or_invalid_token".to_owned()))
        .await;
    assert!(home.content_type().unwrap().starts_with("text/html"));
    for words in [
        "This link is no longer valid",
        "already been used",
        "expired",
    ] {
        assert!(home.text().contains(words), "{words}: {}", home.text());
    }

    let last_second = issue().await;
    server.state.clock.advance(599).unwrap();
    assert_eq!(
        follow(last_second).await.status,
        StatusCode::FOUND,
        "at 599 s"
    );

    let expired = issue().await;
    server.state.clock.advance(601).unwrap();
    let answer = follow(expired.clone()).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(
        answer.header("location"),
        Some("/?error=expired_or_invalid_token")
    );
    // Still refused when followed again.
    assert_eq!(
        follow(expired).await.header("location"),
        Some("/?error=expired_or_invalid_token")
    );

    // test_error_redirect_0_missing_token, test_error_redirect_1_invalid_token.
    for (target, location) in [
        (
            "/agentic/login?token=nonsense",
            "/?error=expired_or_invalid_token",
        ),
        ("/agentic/login", "/?error=missing_token"),
        ("/agentic/login?token=", "/?error=missing_token"),
    ] {
        let answer = follow(target.to_owned()).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{target}");
        assert_eq!(answer.header("location"), Some(location), "{target}");
        assert_eq!(answer.header("set-cookie"), None, "{target}");
    }
    let home = server
        .send(Call::get("/?error=missing_token".to_owned()))
        .await;
    assert!(home.text().contains("no sign-in token"), "{}", home.text());

    // A link into a project removed before it is followed is dead too.
    let before_removal = issue().await;
    let removed = post(
        &server,
        &remove_path(&resource.team_id.to_string()),
        &resource.tokens.access,
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(
        follow(before_removal).await.header("location"),
        Some("/?error=expired_or_invalid_token")
    );
}

/// If this fails, a partner without the capability hands out sign-in links.
#[tokio::test]
async fn deep_links_need_the_capability_and_a_token() {
    let server = Server::issuing_keys().await;
    let resource = provisioned(&server).await;
    let no_token = server
        .send(
            Call::post(paths::DEEP_LINKS)
                .version()
                .json(&json!({"purpose": "dashboard"})),
        )
        .await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    assert_eq!(envelope(Family::Plain, &no_token.json()).0, "unauthorized");

    let mut wizard = server.state.db.application(WIZARD).await.unwrap().unwrap();
    wizard.can_issue_deep_links = false;
    server.state.db.upsert_application(&wizard).await.unwrap();
    let answer = deep_link(
        &server,
        &resource.tokens.access,
        json!({"purpose": "dashboard"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text());
    assert_eq!(envelope(Family::Plain, &answer.json()).0, "forbidden");
}

/// If this fails, the legacy era's rotation kills the personal key a
/// partner already handed out (the older real server kept it beside the
/// new one: test_rotate_credentials.py::test_rotate_preserves_existing_pats).
#[tokio::test]
async fn a_legacy_rotation_keeps_the_earlier_personal_key() {
    let server = Server::legacy().await;
    let first = provisioned(&server).await;
    let answer = post(
        &server,
        &rotate_path(&first.team_id.to_string()),
        &first.tokens.access,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let new_key = answer.json()["complete"]["access_configuration"]["personal_api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        active(&server, &first.personal_key).await,
        "the earlier phx_"
    );
    assert!(active(&server, &new_key).await, "the new phx_");
}
