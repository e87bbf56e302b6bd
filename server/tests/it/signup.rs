//! The signup path end to end, per behaviour profile (protocol sections 4,
//! 5 and 8): account request → token → resource → introspection → the
//! PostHog API.

use axum::http::StatusCode;
use serde_json::{json, Value};

use protocol::paths;
use protocol::scope::{WIZARD_APPLICATION_CEILING, WIZARD_SIGNUP_SCOPES};

use server::ScopePolicy;

use crate::support::*;

/// One row: the profile, what the wizard requests (None: the field is
/// absent, as the first signup client sent it), and what the access token
/// and the personal API key must then carry.
struct Case {
    profile: &'static str,
    requested: Option<&'static [&'static str]>,
    token_scope: String,
    /// `None`: the era mints no personal API key.
    key_scope: Option<String>,
}

async fn check(case: Case) {
    let label = format!("profile {} requesting {:?}", case.profile, case.requested);
    let server = Server::start(Options::new(case.profile)).await;
    let email = server.email();
    let (code, verifier) = server.signup_as(&email, case.requested).await;

    // The token: what the wizard stores and shows.
    let answer = server.exchange(&code, verifier.as_str()).await;
    assert_eq!(answer.status, StatusCode::OK, "{label}: {}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{label}");
    assert_eq!(answer.header("pragma"), Some("no-cache"), "{label}");
    let token = tokens_of(answer);
    let body = &token.answer;
    assert_eq!(body["token_type"], "bearer", "{label}");
    assert_eq!(body["expires_in"], 3600, "{label}");
    assert_eq!(
        body["scope"],
        case.token_scope.as_str(),
        "{label}: token scope"
    );
    assert!(token.access.starts_with("pha_"), "{label}");
    assert!(token.refresh.starts_with("phr_"), "{label}");
    let account = &body["account"];
    assert_eq!(account["payment_credentials"], "orchestrator", "{label}");
    let organization_id = account["id"].as_str().expect("account.id").to_owned();
    let teams = account["available_teams"]
        .as_array()
        .expect("available_teams");
    assert_eq!(
        teams.len(),
        1,
        "{label}: a new user has one project: {body}"
    );
    let team_id = teams[0]["id"].as_i64().expect("an integer team id");
    assert_eq!(
        teams[0]["organization_id"],
        organization_id.as_str(),
        "{label}"
    );
    assert_eq!(
        teams[0]["organization_name"],
        format!("PostHog Wizard ({email})").as_str(),
        "{label}"
    );
    assert!(teams[0]["name"].is_string(), "{label}");

    // The resource: the project key, the host and a personal API key.
    let answer = server.provision(&token.access).await;
    assert_eq!(answer.status, StatusCode::OK, "{label}: {}", answer.text());
    let resource = answer.json();
    assert_eq!(resource["status"], "complete", "{label}");
    assert_eq!(resource["id"], team_id.to_string().as_str(), "{label}");
    assert_eq!(resource["service_id"], "analytics", "{label}");
    let access = &resource["complete"]["access_configuration"];
    let project_key = access["api_key"].as_str().expect("api_key").to_owned();
    assert!(project_key.starts_with("phc_"), "{label}: {resource}");
    assert_eq!(access["host"], PUBLIC_URL, "{label}");
    let personal_key = access["personal_api_key"].as_str().map(str::to_owned);
    assert_eq!(
        personal_key.is_some(),
        case.key_scope.is_some(),
        "{label}: a personal key only where the era mints one: {resource}"
    );
    if let Some(personal_key) = &personal_key {
        assert!(personal_key.starts_with("phx_"), "{label}");
    }

    // The read-back never shows the personal key again.
    let answer = server
        .send(
            Call::get(format!("{}/{team_id}", paths::RESOURCES))
                .version()
                .bearer(&token.access),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{label}: {}", answer.text());
    let mut expected = resource.clone();
    expected["complete"]["access_configuration"]
        .as_object_mut()
        .unwrap()
        .remove("personal_api_key");
    assert_eq!(answer.json(), expected, "{label}: read-back");

    // Introspection, as the gateway sees both credentials.
    let access_view = server.introspect(&token.access).await.json();
    let user_uuid = access_view["sub"].as_str().expect("sub").to_owned();
    assert_eq!(
        access_view,
        json!({
            "active": true,
            "scope": case.token_scope,
            "client_id": WIZARD,
            "token_type": "access_token",
            "exp": NOW + 3600,
            "iat": NOW,
            "sub": user_uuid,
            "scoped_teams": [team_id],
            "region": "us",
        }),
        "{label}: introspection of the pha_"
    );
    if let (Some(personal_key), Some(key_scope)) = (&personal_key, &case.key_scope) {
        let key_view = server.introspect(personal_key).await.json();
        assert_eq!(
            key_view,
            json!({
                "active": true,
                "scope": key_scope,
                "client_id": WIZARD,
                "token_type": "personal_api_key",
                "iat": NOW,
                "sub": user_uuid,
                "scoped_teams": [team_id],
                "region": "us",
            }),
            "{label}: introspection of the phx_"
        );
    }

    // The PostHog API, with each credential: what CI mode would read.
    let mut credentials = vec![(&token.access, &case.token_scope)];
    if let (Some(personal_key), Some(key_scope)) = (&personal_key, &case.key_scope) {
        credentials.push((personal_key, key_scope));
    }
    for (credential, scopes) in credentials {
        let prefix = &credential[..4];
        // PostHog's APIScopePermission: a scopeless personal key is a legacy
        // key that may do anything; a scopeless access token nothing; a
        // write scope also reads.
        let scopeless_key = prefix == "phx_" && scopes.trim().is_empty();
        let grants = |scope: &str| {
            scopeless_key
                || protocol::scope::grant_includes(scopes, scope)
                || protocol::scope::grant_includes(scopes, &scope.replace(":read", ":write"))
        };
        let me = server
            .send(Call::get(paths::USERS_ME).bearer(credential))
            .await;
        if grants("user:read") {
            assert_eq!(me.status, StatusCode::OK, "{label} {prefix}: {}", me.text());
            let me = me.json();
            assert_eq!(me["uuid"], user_uuid.as_str(), "{label}");
            assert_eq!(me["email"], email.as_str(), "{label}");
            assert_eq!(me["first_name"], "Ada", "{label}");
            assert_eq!(me["team"]["id"], team_id, "{label}");
            assert_eq!(me["team"]["api_token"], project_key.as_str(), "{label}");
            assert_eq!(
                me["organization"]["id"],
                organization_id.as_str(),
                "{label}"
            );
            assert_eq!(me["organizations"].as_array().map(Vec::len), Some(1));
            assert_published_wizard_accepts_user(&me, &label);
        } else {
            assert_permission_denied(&me, "user:read", &label);
        }
        let project = server
            .send(Call::get(paths::project(team_id)).bearer(credential))
            .await;
        if grants("project:read") {
            assert_eq!(
                project.status,
                StatusCode::OK,
                "{label}: {}",
                project.text()
            );
            let project = project.json();
            assert_eq!(
                (
                    &project["id"],
                    &project["name"],
                    &project["api_token"],
                    &project["organization"]
                ),
                (
                    &json!(team_id),
                    &teams[0]["name"],
                    &json!(project_key),
                    &json!(organization_id)
                ),
                "{label} {prefix}"
            );
            assert_published_wizard_accepts_project(&project, &label);
        } else {
            assert_permission_denied(&project, "project:read", &label);
        }
    }

    // What the server stored, as the scenario harness reads it.
    let state = server.admin_state().await;
    assert_eq!(state.users, 1, "{label}");
    assert_eq!(
        state.access_token_scopes,
        std::slice::from_ref(&case.token_scope),
        "{label}"
    );
    assert_eq!(
        state.personal_api_key_scopes,
        case.key_scope.iter().cloned().collect::<Vec<_>>(),
        "{label}"
    );
}

fn assert_permission_denied(answer: &Answer, scope: &str, label: &str) {
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "{label}: {}",
        answer.text()
    );
    let (code, detail) = envelope(Family::Detail, &answer.json());
    assert_eq!(code, "permission_denied", "{label}");
    assert!(
        detail == format!("API key missing required scope '{scope}'")
            || detail == "OAuth token has no scopes and cannot access this resource",
        "{label}: the detail must name {scope}, or say the token has none: {detail}"
    );
}

/// If this fails, the simulator no longer reproduces the April 2026 bug
/// (legacy) or no longer shows its fix (current): the wizard's token would
/// carry the wrong scopes and the scenario suite would tell the wrong story.
#[tokio::test]
async fn signup_end_to_end_in_every_era() {
    let signup = joined(&WIZARD_SIGNUP_SCOPES);
    let era_ceiling = |era: &str| {
        let policy = ScopePolicy::load(era).unwrap();
        policy
            .expand(policy.named_ceiling("wizard").unwrap())
            .join(" ")
    };
    let ceilings = joined(&WIZARD_APPLICATION_CEILING);
    let today = era_ceiling("current");
    let cases = [
        // April 2026: nothing requested, nothing granted, PATs without scopes.
        Case {
            profile: "legacy",
            requested: None,
            token_scope: String::new(),
            key_scope: Some(String::new()),
        },
        Case {
            profile: "legacy",
            requested: Some(&[]),
            token_scope: String::new(),
            key_scope: Some(String::new()),
        },
        Case {
            profile: "legacy",
            requested: Some(&WIZARD_SIGNUP_SCOPES),
            token_scope: signup.clone(),
            key_scope: Some(String::new()),
        },
        // The global allowlist: PATs with the wildcard.
        Case {
            profile: "allowlist",
            requested: Some(&WIZARD_SIGNUP_SCOPES),
            token_scope: signup.clone(),
            key_scope: Some("*".to_owned()),
        },
        // Per-application ceilings: an empty request becomes the ceiling,
        // and the PAT carries the ceiling whatever the token holds.
        Case {
            profile: "ceilings",
            requested: None,
            token_scope: ceilings.clone(),
            key_scope: Some(ceilings.clone()),
        },
        Case {
            profile: "ceilings",
            requested: Some(&WIZARD_SIGNUP_SCOPES),
            token_scope: signup.clone(),
            key_scope: Some(ceilings),
        },
        // Today: an empty request becomes `@default` and the gateway scope;
        // no personal API key.
        Case {
            profile: "current",
            requested: None,
            token_scope: today.clone(),
            key_scope: None,
        },
        Case {
            profile: "current",
            requested: Some(&[]),
            token_scope: today,
            key_scope: None,
        },
        Case {
            profile: "current",
            requested: Some(&WIZARD_SIGNUP_SCOPES),
            token_scope: signup,
            key_scope: None,
        },
    ];
    for case in cases {
        check(case).await;
    }
}

/// If this fails, a scope outside the application's ceiling is refused at
/// the wrong step, or an era that checks at the account request leaves a
/// half-made account behind.
#[tokio::test]
async fn a_scope_outside_the_ceiling_is_refused_where_the_era_checks_it() {
    // The `ceilings` era holds every request at the account request, so no
    // account exists afterwards; `introspection` is always allowed there.
    let server = Server::start(Options::new("ceilings")).await;
    let verifier = server.verifier();
    let body = server.account_request(
        "nobody@example.com",
        Some(&["user:read", "llm_gateway:write", "introspection"]),
        &verifier,
    );
    let answer = server
        .send(Call::post(paths::ACCOUNT_REQUESTS).version().json(&body))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    let json = answer.json();
    let (code, message) = envelope(Family::AccountRequest, &json);
    assert_eq!(code, "invalid_scope");
    assert!(message.ends_with(": llm_gateway:write"), "{message}");
    assert_eq!(json["id"], "acctreq_nobody@example.com");
    insta::assert_json_snapshot!("account_request_invalid_scope", json);
    let state = server.admin_state().await;
    assert_eq!((state.users, state.organizations, state.teams), (0, 0, 0));

    // Today's server creates the new account and refuses at the exchange
    // (test_oauth_token: the ceiling is enforced on the direct mint), with
    // its own words; the always-allowed scopes pass.
    let server = Server::current().await;
    let (code, verifier) = server
        .signup(Some(&["user:read", "llm_gateway:write", "introspection"]))
        .await;
    let answer = server.exchange(&code, verifier.as_str()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert_eq!(
        answer.json(),
        json!({
            "error": "invalid_scope",
            "error_description": "Requested scopes exceed the application's allowed scopes"
        })
    );
    assert_eq!(server.admin_state().await.users, 1);
    let (code, verifier) = server
        .signup(Some(&["user:read", "openid", "introspection"]))
        .await;
    let answer = server.exchange(&code, verifier.as_str()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["scope"], "user:read openid introspection");
}

/// The bodies a person reads when they debug a signup: if these change, the
/// wire changed.
#[tokio::test]
async fn signup_bodies_snapshot() {
    let server = Server::current().await;
    let (code, verifier) = server.signup(Some(&WIZARD_SIGNUP_SCOPES)).await;
    let email = server.email();
    let account_answer = server
        .send(
            Call::post(paths::ACCOUNT_REQUESTS)
                .version()
                .json(&server.account_request(&email, None, &server.verifier())),
        )
        .await
        .json();
    insta::assert_json_snapshot!("account_request_answer", account_answer, {
        ".oauth.code" => code_redaction(),
    });
    let token = tokens_of(server.exchange(&code, verifier.as_str()).await);
    insta::assert_json_snapshot!("token_answer", token.answer, {
        ".access_token" => secret("pha_"),
        ".refresh_token" => secret("phr_"),
        ".account.id" => uuid(),
        ".account.available_teams[].organization_id" => uuid(),
    });
    let resource = server.provision(&token.access).await.json();
    insta::assert_json_snapshot!("resource_answer", resource, {
        ".complete.access_configuration.api_key" => secret("phc_"),
        ".complete.access_configuration.personal_api_key" => secret("phx_"),
    });
    let introspection = server.introspect(&token.access).await.json();
    insta::assert_json_snapshot!("introspection_answer", introspection, {
        ".sub" => uuid(),
        ".exp" => timestamp(),
        ".iat" => timestamp(),
    });
    let me: Value = server
        .send(Call::get(paths::USERS_ME).bearer(&token.access))
        .await
        .json();
    insta::assert_json_snapshot!("users_me_answer", me, {
        ".uuid" => uuid(),
        ".distinct_id" => uuid(),
        ".organization.id" => uuid(),
        ".organizations[].id" => uuid(),
        ".team.uuid" => uuid(),
        ".team.organization" => uuid(),
        ".team.api_token" => secret("phc_"),
    });
    let project: Value = server
        .send(
            Call::get(paths::project(
                me["team"]["id"].as_i64().unwrap_or_default(),
            ))
            .bearer(&token.access),
        )
        .await
        .json();
    insta::assert_json_snapshot!("project_answer", project, {
        ".uuid" => uuid(),
        ".organization" => uuid(),
        ".api_token" => secret("phc_"),
    });
}

/// What the published wizard's own schema of `/api/users/@me/` requires
/// (its `ApiUserSchema`): without these it stops with "Invalid response
/// format" before it ever reaches the gateway.
fn assert_published_wizard_accepts_user(me: &Value, label: &str) {
    assert!(
        me["distinct_id"].is_string(),
        "{label}: distinct_id in {me}"
    );
    assert!(me["team"]["id"].is_i64(), "{label}: team.id in {me}");
    for pointer in [
        "/team/organization",
        "/organization/id",
        "/organizations/0/id",
    ] {
        let value = me
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(is_uuid(value), "{label}: {pointer} must be a UUID in {me}");
    }
}

/// What the published wizard's own schema of `/api/projects/{id}/`
/// requires (its `ApiProjectSchema`).
fn assert_published_wizard_accepts_project(project: &Value, label: &str) {
    assert!(project["id"].is_i64(), "{label}: id in {project}");
    for field in ["uuid", "organization"] {
        let value = project[field].as_str().unwrap_or_default();
        assert!(
            is_uuid(value),
            "{label}: {field} must be a UUID in {project}"
        );
    }
    for field in ["api_token", "name"] {
        assert!(project[field].is_string(), "{label}: {field} in {project}");
    }
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, character)| {
            matches!(index, 8 | 13 | 18 | 23) == (character == '-')
                && (character == '-' || character.is_ascii_hexdigit())
        })
}

fn code_redaction() -> insta::internals::Redaction {
    crate::support::code()
}
