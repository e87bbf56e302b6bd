//! Seeded users, teams, keys and health issues (the existing-user flows of
//! seed 002), partner rate limits and deactivation, account-request
//! idempotency, and `GET /api/environments/{id}/health_issues/`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use protocol::paths;
use server::Seed;

use crate::support::*;

/// Existing users, extra partners, keys and issues, on top of
/// [`PARTNER_SEED`].
const ACCOUNTS_SEED: &str = r#"
[[partners]]
client_id = "limited"
label = "Limited"
auth_method = "hmac"
ceiling = "orchestrator"
capabilities = ["can_create_accounts", "can_provision_resources"]
signing_secrets = ["whsec_limited_fake"]
rate_limits = { account_requests = 2, token_exchanges = 1, resource_creates = 1, token_refreshes = 2 }

[[partners]]
client_id = "retired"
label = "Retired"
auth_method = "hmac"
ceiling = "orchestrator"
capabilities = ["can_create_accounts"]
signing_secrets = ["whsec_retired_fake"]
active = false

[[organizations]]
name = "Solo Org"
id = "0b0e0c1d-0000-4000-8000-000000000001"

[[organizations]]
name = "Alpha Org"

[[organizations]]
name = "Beta Org"

[[users]]
email = "solo@example.com"
first_name = "Solo"
password = "solo-password-fake"
memberships = [{ organization = "Solo Org" }]

[[users]]
email = "multi@example.com"
first_name = "Multi"
memberships = [
  { organization = "Beta Org", joined_at = 1710000000 },
  { organization = "Alpha Org", joined_at = 1700000000 },
]

[[teams]]
organization = "Solo Org"
name = "Solo Project"
id = 101

[[teams]]
organization = "Alpha Org"
name = "Alpha Web"
id = 42

[[teams]]
organization = "Beta Org"
name = "Beta Web"
id = 43

[[personal_api_keys]]
user = "solo@example.com"
team = "Solo Project"
key = "phx_expired_fake_key_0000000000000000000000000000"
scopes = ["user:read", "health_issue:read"]
expires_at = "2020-01-01T00:00:00Z"

[[personal_api_keys]]
user = "solo@example.com"
team = 101
key = "phx_health_fake_key_00000000000000000000000000000"
scopes = ["user:read", "health_issue:read"]

[[personal_api_keys]]
user = "solo@example.com"
team = 101
key = "phx_nohealth_fake_key_000000000000000000000000000"
scopes = ["user:read"]

[[personal_api_keys]]
user = "multi@example.com"
team = 42
key = "phx_multi_fake_key_0000000000000000000000000000000"
scopes = ["health_issue:read"]

[[health_issues]]
team = 101
kind = "ingestion_lag"
severity = "critical"
status = "active"
created_at = "2026-03-01T10:00:00Z"

[[health_issues]]
team = 101
kind = "sdk_outdated"
severity = "warning"
status = "active"
created_at = "2026-03-02T10:00:00Z"

[[health_issues]]
team = 101
kind = "missing_reverse_proxy"
severity = "info"
status = "active"
dismissed = true
created_at = "2026-03-03T10:00:00Z"

[[health_issues]]
team = 101
kind = "event_volume_drop"
severity = "warning"
status = "resolved"
created_at = "2026-02-01T10:00:00Z"
"#;

const EXPIRED_KEY: &str = "phx_expired_fake_key_0000000000000000000000000000";
const HEALTH_KEY: &str = "phx_health_fake_key_00000000000000000000000000000";
const NO_HEALTH_KEY: &str = "phx_nohealth_fake_key_000000000000000000000000000";
const MULTI_KEY: &str = "phx_multi_fake_key_0000000000000000000000000000000";

async fn seeded(options: Options) -> Server {
    let server = Server::start(options.partner()).await;
    apply(&server, ACCOUNTS_SEED).await;
    server
}

async fn apply(server: &Server, text: &str) {
    Seed::parse(text, "accounts seed")
        .expect("seed parses")
        .apply(&server.state.db, &server.state.policy)
        .await
        .expect("seed applies");
}

/// A signed account request by the partner with `secret`.
async fn signed_request(server: &Server, secret: &str, body: &Value) -> Answer {
    let bytes = body.to_string();
    let signature = protocol::signature::header_value(
        &[secret.as_bytes()],
        server.state.clock.now(),
        bytes.as_bytes(),
    );
    server
        .send(
            Call::post(paths::ACCOUNT_REQUESTS)
                .version()
                .header(protocol::signature::HEADER, signature)
                .raw(Some("application/json"), bytes),
        )
        .await
}

/// A signed code exchange by the partner with `secret`.
async fn signed_exchange(server: &Server, secret: &str, code: &str) -> Answer {
    signed_token(
        server,
        secret,
        &[("grant_type", "authorization_code"), ("code", code)],
    )
    .await
}

async fn signed_refresh(server: &Server, secret: &str, refresh: &str) -> Answer {
    signed_token(
        server,
        secret,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await
}

/// A form to the agentic token endpoint, signed with `secret`.
async fn signed_token(server: &Server, secret: &str, form: &[(&str, &str)]) -> Answer {
    let body = serde_urlencoded::to_string(form).unwrap();
    let signature = protocol::signature::header_value(
        &[secret.as_bytes()],
        server.state.clock.now(),
        body.as_bytes(),
    );
    server
        .send(
            Call::post(paths::AGENTIC_TOKEN)
                .version()
                .header(protocol::signature::HEADER, signature)
                .raw(Some("application/x-www-form-urlencoded"), body),
        )
        .await
}

/// Account request and exchange for `email` by the integration partner.
async fn linked(server: &Server, email: &str, configuration: Value) -> Value {
    let answer = signed_request(
        server,
        PARTNER_SECRET,
        &json!({
            "id": format!("req-{email}-{configuration}"),
            "email": email,
            "configuration": configuration,
            "orchestrator": {"type": "stripe", "stripe": {"account": "acct_seeded"}},
        }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let code = answer.json()["oauth"]["code"].as_str().unwrap().to_owned();
    tokens_of(signed_exchange(server, PARTNER_SECRET, &code).await).answer
}

fn team_ids(answer: &Value) -> Vec<i64> {
    answer["account"]["available_teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|team| team["id"].as_i64().unwrap())
        .collect()
}

/// If this fails, restarting a server on its database file fails or
/// doubles every seeded user, team and key.
#[tokio::test]
async fn seeds_apply_again_without_duplicating() {
    let server = seeded(Options::new("current").file()).await;
    let before = server.admin_state().await;
    apply(&server, ACCOUNTS_SEED).await;
    apply(&server, ACCOUNTS_SEED).await;
    let after = server.admin_state().await;
    assert_eq!(before.users, 2);
    assert_eq!(before.teams, 3);
    assert_eq!(before.personal_api_keys, 4);
    assert_eq!(
        (
            after.users,
            after.organizations,
            after.teams,
            after.personal_api_keys
        ),
        (
            before.users,
            before.organizations,
            before.teams,
            before.personal_api_keys
        )
    );
    let (user, hash) = server
        .state
        .db
        .user_with_password("solo@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.first_name, "Solo");
    let hash = hash.expect("a password hash");
    assert!(!hash.contains("solo-password-fake"));
    assert!(server::password::verify("solo-password-fake", &hash));
}

/// If this fails, an orchestrator linking an existing user gets the wrong
/// project (seed 002's team resolution).
#[tokio::test]
async fn existing_users_get_codes_for_the_resolved_team() {
    let server = seeded(Options::new("current")).await;
    let solo = linked(&server, "solo@example.com", json!({"region": "US"})).await;
    assert_eq!(team_ids(&solo), [101]);
    assert_eq!(
        solo["account"]["id"],
        "0b0e0c1d-0000-4000-8000-000000000001"
    );

    let multi = linked(&server, "multi@example.com", json!({})).await;
    let teams = multi["account"]["available_teams"].as_array().unwrap();
    assert_eq!(teams.len(), 3, "a new team was created: {multi}");
    assert_eq!(teams[1]["organization_name"], "Alpha Org", "{multi}");
    assert_eq!(teams[1]["name"], "Default project");

    for (team_id, expected) in [(json!(43), 43), (json!("42"), 42)] {
        let answer = linked(&server, "multi@example.com", json!({"team_id": team_id})).await;
        // The account is the organization of the code's team, not of
        // another team the user reaches.
        let code_team = answer["account"]["available_teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|team| team["id"] == expected)
            .unwrap_or_else(|| panic!("team {expected} is available: {answer}"))
            .clone();
        assert_eq!(
            answer["account"]["id"], code_team["organization_id"],
            "{answer}"
        );
        let access = answer["access_token"].as_str().unwrap();
        let resource = server.provision(access).await;
        assert_eq!(
            resource.json()["id"],
            expected.to_string(),
            "{}",
            resource.text()
        );
    }
    for (team_id, code, message) in [
        (json!(999), "team_resolution_failed", "999"),
        (json!(101), "team_resolution_failed", "101"),
        (
            json!("abc"),
            "invalid_request",
            "configuration.team_id must be an integer",
        ),
    ] {
        let answer = signed_request(
            &server,
            PARTNER_SECRET,
            &json!({"id": "bad-team", "email": "multi@example.com", "configuration": {"team_id": team_id}}),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
        let (got, text) = envelope(Family::AccountRequest, &answer.json());
        assert_eq!(got, code);
        assert!(text.contains(message), "{text}");
    }
}

/// If this fails, today's token buckets let a partner burst past its
/// declared proportion, refill at the wrong rate, or hide its headroom.
#[tokio::test]
async fn todays_token_bucket_bursts_refills_and_tells_its_headroom() {
    let server = seeded(Options::new("current")).await;
    let secret = "whsec_limited_fake";
    let request =
        |n: u32| json!({"id": format!("bucket-{n}"), "email": format!("bucket{n}@example.com")});
    // Two account requests an hour: a burst of max(1, ceil(5 × 2 / 10)) = 1.
    let first = signed_request(&server, secret, &request(1)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(
        (
            first.header("ratelimit-limit"),
            first.header("ratelimit-remaining"),
            first.header("ratelimit-reset")
        ),
        (Some("1"), Some("0"), Some("1800"))
    );
    let users = server.admin_state().await.users;
    let second = signed_request(&server, secret, &request(2)).await;
    assert_eq!(
        second.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        second.text()
    );
    assert_eq!(
        server.admin_state().await.users,
        users,
        "a refused account request creates no account"
    );
    assert_eq!(second.header("retry-after"), Some("1800"));
    assert_eq!(second.header("ratelimit-remaining"), Some("0"));
    let (code, message) = envelope(Family::AccountRequest, &second.json());
    assert_eq!(code, "rate_limited");
    assert!(
        message.starts_with("Rate limit exceeded for this partner."),
        "{message}"
    );
    server.state.clock.advance(1799).unwrap();
    let early = signed_request(&server, secret, &request(3)).await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(early.header("retry-after"), Some("1"));
    server.state.clock.advance(1).unwrap();
    let refilled = signed_request(&server, secret, &request(4)).await;
    assert_eq!(refilled.status, StatusCode::OK, "{}", refilled.text());
    // An unmetered partner's answers carry no RateLimit-* headers.
    let (code, _) = server.signup(None).await;
    assert!(!code.is_empty());
}

/// If this fails, an orchestrator cannot pick another of the user's teams
/// at resource creation, or can reach someone else's.
#[tokio::test]
async fn resource_creation_picks_an_available_team_and_refuses_a_foreign_one() {
    let server = seeded(Options::new("current")).await;
    let answer = linked(&server, "multi@example.com", json!({"team_id": 42})).await;
    let access = answer["access_token"].as_str().unwrap();
    let create = |team_id: Value| {
        server.send(
            Call::post(paths::RESOURCES)
                .version()
                .bearer(access)
                .json(&json!({"configuration": {"team_id": team_id}})),
        )
    };
    let other = create(json!(43)).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text());
    assert_eq!(other.json()["id"], "43");
    let foreign = create(json!(101)).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.text());
    envelope(Family::Resource, &foreign.json());
}

/// If this fails, a partner over its hourly limit is either let through or
/// not told when to come back (an era that meters in hourly windows).
#[tokio::test]
async fn rate_limits_refuse_with_retry_after_until_the_window_turns() {
    let server = seeded(Options::new("ceilings")).await;
    let secret = "whsec_limited_fake";
    let request = |n: u32| {
        json!({
            "id": format!("limited-{n}"),
            "email": format!("limited{n}@example.com"),
            "orchestrator": {"type": "stripe", "stripe": {"account": "acct_limited"}},
        })
    };
    let first = signed_request(&server, secret, &request(1)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let second = signed_request(&server, secret, &request(2)).await;
    assert_eq!(second.status, StatusCode::OK);
    let users = server.admin_state().await.users;
    let third = signed_request(&server, secret, &request(3)).await;
    assert_eq!(
        third.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        third.text()
    );
    assert_eq!(
        server.admin_state().await.users,
        users,
        "a refused account request creates no account"
    );
    // NOW is 2000 s into its hour.
    assert_eq!(third.header("retry-after"), Some("1600"));
    let (code, _) = envelope(Family::AccountRequest, &third.json());
    assert_eq!(code, "rate_limited");
    // Another partner is not affected.
    server.signup(None).await;
    server.state.clock.advance(1599).unwrap();
    let still = signed_request(&server, secret, &request(4)).await;
    assert_eq!(still.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(still.header("retry-after"), Some("1"));
    server.state.clock.advance(1).unwrap();
    let next_hour = signed_request(&server, secret, &request(5)).await;
    assert_eq!(next_hour.status, StatusCode::OK, "{}", next_hour.text());

    // Token exchanges (1 an hour) count against the code's partner.
    let codes: Vec<String> = [first, second]
        .iter()
        .map(|answer| answer.json()["oauth"]["code"].as_str().unwrap().to_owned())
        .collect();
    let next_code = next_hour.json()["oauth"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let exchanged = tokens_of(signed_exchange(&server, secret, &next_code).await);
    let refused = signed_exchange(&server, secret, &codes[0]).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    let (code, _) = envelope(Family::OAuth, &refused.json());
    assert_eq!(code, "rate_limited");
    assert!(refused.header("retry-after").is_some());

    // Resource creates (1 an hour) count against the token's partner.
    assert_eq!(
        server.provision(&exchanged.access).await.status,
        StatusCode::OK
    );
    let refused = server.provision(&exchanged.access).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    let (code, _) = envelope(Family::Resource, &refused.json());
    assert_eq!(code, "rate_limited");
    assert!(refused.header("retry-after").is_some());
}

/// If this fails, a deactivated partner (or its credentials) keeps working.
#[tokio::test]
async fn a_deactivated_partner_and_its_credentials_stop_working() {
    let server = seeded(Options::new("ceilings")).await;
    let refused = signed_request(
        &server,
        "whsec_retired_fake",
        &json!({"id": "r1", "email": "someone@example.com"}),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );
    let (code, message) = envelope(Family::AccountRequest, &refused.json());
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("unauthorized", "Partner is deactivated")
    );

    let tokens = linked(&server, "solo@example.com", json!({})).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let resource = server.provision(&access).await;
    let key = resource.json()["complete"]["access_configuration"]["personal_api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    apply(
        &server,
        &PARTNER_SEED.replace("signing_secrets", "active = false\nsigning_secrets"),
    )
    .await;

    let answer = server.provision(&access).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text());
    let (_, message) = envelope(Family::Resource, &answer.json());
    assert!(message.contains("Partner is deactivated"), "{message}");
    for credential in [&access, &key] {
        let me = server
            .send(Call::get(paths::USERS_ME).bearer(credential))
            .await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.text());
        assert_eq!(
            server.introspect(credential).await.json(),
            json!({"active": false})
        );
    }
}

/// If this fails, an orchestrator that retries a timed-out account request
/// gets a second account, or a reused id silently means something else.
#[tokio::test]
async fn the_same_id_and_body_replay_the_original_answer() {
    let server = seeded(Options::new("current")).await;
    let body = json!({"id": "idem-1", "email": "idem@example.com", "name": "Idem", "configuration": {"region": "EU", "organization_name": "Idem Org"}});
    let first = signed_request(&server, PARTNER_SECRET, &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    // The same body with its keys in another order and other whitespace.
    let reordered = r#"{ "configuration": {"organization_name": "Idem Org", "region": "EU"}, "name": "Idem", "email": "idem@example.com", "id": "idem-1" }"#;
    let signature = protocol::signature::header_value(
        &[PARTNER_SECRET.as_bytes()],
        server.state.clock.now(),
        reordered.as_bytes(),
    );
    let again = server
        .send(
            Call::post(paths::ACCOUNT_REQUESTS)
                .version()
                .header(protocol::signature::HEADER, signature)
                .raw(Some("application/json"), reordered),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(
        again.json(),
        first.json(),
        "the original answer, code included"
    );
    let users = server.admin_state().await.users;

    let changed = signed_request(
        &server,
        PARTNER_SECRET,
        &json!({"id": "idem-1", "email": "other@example.com"}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::CONFLICT, "{}", changed.text());
    let (code, _) = envelope(Family::AccountRequest, &changed.json());
    assert_eq!(code, "idempotency_conflict");
    assert_eq!(changed.json()["id"], "idem-1");
    assert_eq!(server.admin_state().await.users, users, "no second account");
    assert_eq!(
        server
            .state
            .db
            .account_request_region(PARTNER, "idem-1")
            .await
            .unwrap(),
        Some("EU".to_owned()),
        "configuration.region is recorded"
    );

    // Another partner may use the same id.
    let other = signed_request(
        &server,
        "whsec_limited_fake",
        &json!({"id": "idem-1", "email": "other@example.com"}),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text());

    // After 24 h the id is free again: a new answer with a new code.
    server.state.clock.advance(24 * 3600).unwrap();
    let later = signed_request(&server, PARTNER_SECRET, &body).await;
    assert_eq!(later.status, StatusCode::OK);
    assert_ne!(later.json()["oauth"]["code"], first.json()["oauth"]["code"]);
}

/// If this fails, `wizard doctor` lists the wrong issues, or someone
/// else's.
#[tokio::test]
async fn health_issues_are_filtered_limited_and_private() {
    let server = seeded(Options::new("current")).await;
    let list = |key: &str, path: String| server.send(Call::get(path).bearer(key));
    let path = |team: i64, query: &str| format!("/api/environments/{team}/health_issues/?{query}");

    let active = list(
        HEALTH_KEY,
        path(101, "status=active&dismissed=false&limit=250"),
    )
    .await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.text());
    let body = active.json();
    assert_eq!(body["count"], 2);
    let kinds: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sdk_outdated", "ingestion_lag"], "newest first");
    assert_eq!(body["results"][1]["severity"], "critical");
    assert_eq!(body["results"][1]["dismissed"], false);
    assert_eq!(body["results"][1]["created_at"], "2026-03-01T10:00:00Z");

    for (query, count, listed) in [
        ("", 4, 4),
        ("status=resolved", 1, 1),
        ("dismissed=true", 1, 1),
        ("limit=1", 4, 1),
        ("limit=100000", 4, 4),
    ] {
        let body = list(HEALTH_KEY, path(101, query)).await.json();
        assert_eq!(body["count"], count, "{query}: {body}");
        assert_eq!(body["results"].as_array().unwrap().len(), listed, "{query}");
    }

    let bad = list(HEALTH_KEY, path(101, "status=open")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    envelope(Family::Detail, &bad.json());
    for (key, team, status) in [
        (HEALTH_KEY, 42, StatusCode::NOT_FOUND),
        (HEALTH_KEY, 999, StatusCode::NOT_FOUND),
        (MULTI_KEY, 101, StatusCode::NOT_FOUND),
        (MULTI_KEY, 43, StatusCode::NOT_FOUND),
        (MULTI_KEY, 42, StatusCode::OK),
        (NO_HEALTH_KEY, 101, StatusCode::FORBIDDEN),
        (EXPIRED_KEY, 101, StatusCode::UNAUTHORIZED),
    ] {
        let answer = list(key, path(team, "")).await;
        assert_eq!(answer.status, status, "{team}: {}", answer.text());
        if status == StatusCode::OK {
            continue;
        }
        let (code, detail) = envelope(Family::Detail, &answer.json());
        match status {
            StatusCode::FORBIDDEN => {
                assert_eq!(code, "permission_denied");
                assert!(detail.contains("health_issue:read"), "{detail}");
            }
            StatusCode::UNAUTHORIZED => assert!(detail.contains("expired"), "{detail}"),
            _ => {}
        }
    }
}

/// If this fails, today's refresh grant is not rate-limited at all (the
/// OpenAPI document promises a 429), or it spends the partner's exchange
/// budget, which the real server split off because refreshes of hour-long
/// tokens capped a partner's live users.
#[tokio::test]
async fn todays_refreshes_have_a_bucket_of_their_own() {
    let server = seeded(Options::new("current")).await;
    let secret = "whsec_limited_fake";
    let code = |answer: Answer| answer.json()["oauth"]["code"].as_str().unwrap().to_owned();
    let first = code(
        signed_request(
            &server,
            secret,
            &json!({"id": "refresh-1", "email": "refresh1@example.com"}),
        )
        .await,
    );
    let tokens = tokens_of(signed_exchange(&server, secret, &first).await);
    // Two refreshes an hour: a burst of max(1, ceil(30 × 2 / 120)) = 1.
    let refreshed = signed_refresh(&server, secret, &tokens.refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    assert_eq!(refreshed.header("ratelimit-limit"), Some("1"));
    let again = tokens_of(refreshed).refresh;
    let refused = signed_refresh(&server, secret, &again).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    let (code_name, _) = envelope(Family::OAuth, &refused.json());
    assert_eq!(code_name, "rate_limited");
    assert_eq!(refused.header("retry-after"), Some("1800"));
    // The refused refresh token still works once the bucket refills.
    server.state.clock.advance(1800).unwrap();
    let later = signed_refresh(&server, secret, &again).await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.text());

    // The exchange budget was not spent by the refreshes.
    server.state.clock.advance(3600).unwrap();
    let second = code(
        signed_request(
            &server,
            secret,
            &json!({"id": "refresh-2", "email": "refresh2@example.com"}),
        )
        .await,
    );
    let exchanged = signed_exchange(&server, secret, &second).await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text());
}

/// If this fails, an era of hourly windows stopped counting a refresh as
/// a code exchange (its own rule), or began metering it apart.
#[tokio::test]
async fn before_today_a_refresh_counts_as_an_exchange() {
    let server = seeded(Options::new("ceilings")).await;
    let secret = "whsec_limited_fake";
    // Before today a Stripe-signed request names its Stripe account.
    let request = json!({
        "id": "window-1",
        "email": "window1@example.com",
        "orchestrator": {"type": "stripe", "stripe": {"account": "acct_window"}},
    });
    let answer = signed_request(&server, secret, &request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let code = answer.json()["oauth"]["code"].as_str().unwrap().to_owned();
    // token_exchanges = 1 an hour: the exchange spends it, so the refresh
    // is refused (token_refreshes = 2 does not apply in this era).
    let tokens = tokens_of(signed_exchange(&server, secret, &code).await);
    let refused = signed_refresh(&server, secret, &tokens.refresh).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    let (code_name, _) = envelope(Family::OAuth, &refused.json());
    assert_eq!(code_name, "rate_limited");
}
