//! An orchestrator partner (hmac, protocol sections 3 and 4): signatures,
//! health and services, signed account requests and team resolution.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{json, Value};

use protocol::paths;
use protocol::scope::{ORCHESTRATOR_CEILING, WIZARD_SIGNUP_SCOPES};
use protocol::signature::HEADER;

use crate::support::*;

async fn partner_server() -> Server {
    Server::start(Options::new("current").partner()).await
}

/// An account request signed by the partner.
async fn signed_account(server: &Server, body: &Value) -> Answer {
    let text = body.to_string();
    let signature = server.signature(text.as_bytes(), 0);
    server
        .send(
            Call::post(paths::ACCOUNT_REQUESTS)
                .version()
                .header(HEADER, signature)
                .raw(Some("application/json"), text),
        )
        .await
}

/// A code exchange signed by the partner.
async fn signed_exchange(server: &Server, code: &str) -> Answer {
    let body = serde_urlencoded::to_string([("grant_type", "authorization_code"), ("code", code)])
        .unwrap();
    let signature = server.signature(body.as_bytes(), 0);
    server
        .send(
            Call::post(paths::AGENTIC_TOKEN)
                .version()
                .header(HEADER, signature)
                .raw(Some("application/x-www-form-urlencoded"), body),
        )
        .await
}

fn code_of(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let json = answer.json();
    assert_eq!(json["type"], "oauth", "{json}");
    json["oauth"]["code"].as_str().unwrap().to_owned()
}

/// If this fails, Stripe's health check or service listing breaks: a
/// partner's client refuses `next_cursor: ""`.
#[tokio::test]
async fn health_and_services_answer_a_signed_partner() {
    let server = partner_server().await;
    let get = |path: &str| {
        Call::get(path)
            .version()
            .header(HEADER, server.signature(b"", 0))
    };
    let health = server.send(get(paths::HEALTH)).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text());
    assert_eq!(
        health.json(),
        json!({"status": "ok", "supported_versions": ["0.1d"]})
    );
    let services = server.send(get(paths::SERVICES)).await;
    assert_eq!(services.status, StatusCode::OK, "{}", services.text());
    let body = services.json();
    assert!(
        body.get("next_cursor").is_none(),
        "next_cursor must be absent: {body}"
    );
    let kinds: Vec<(&str, &str)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|service| {
            (
                service["id"].as_str().unwrap(),
                service["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("analytics", "deployable"),
            ("free", "plan"),
            ("pay_as_you_go", "plan")
        ]
    );
}

/// If a row fails, a partner debugging its integration cannot tell a
/// malformed header from a clock skew from a wrong secret, or a bad
/// signature gets through.
#[tokio::test]
async fn signature_failures_are_told_apart() {
    let server = partner_server().await;
    let body = json!({"email": "signed@example.com"}).to_string();
    let now = server.state.clock.now();
    let wrong_secret = protocol::signature::header_value(
        &[b"whsec_someone_else".as_slice()],
        now,
        body.as_bytes(),
    );
    // (name, header, expected message fragment)
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "malformed"),
        ("garbage", "signature".into(), "malformed"),
        ("no v1", format!("t={now}"), "malformed"),
        ("short v1", format!("t={now},v1=abcd"), "malformed"),
        (
            "letters for t",
            format!("t=abc,v1={}", "0".repeat(64)),
            "malformed",
        ),
        (
            "301 s old",
            server.signature(body.as_bytes(), -301),
            "tolerance",
        ),
        (
            "301 s ahead",
            server.signature(body.as_bytes(), 301),
            "tolerance",
        ),
        ("wrong secret", wrong_secret, "No signature"),
        ("another body", server.signature(b"{}", 0), "No signature"),
    ];
    let mut messages = BTreeSet::new();
    for (name, header, fragment) in cases {
        for call in [
            Call::post(paths::ACCOUNT_REQUESTS)
                .version()
                .header(HEADER, header.clone())
                .raw(Some("application/json"), body.clone()),
            Call::get(paths::HEALTH)
                .version()
                .header(HEADER, header.clone()),
            Call::get(paths::SERVICES)
                .version()
                .header(HEADER, header.clone()),
        ] {
            let path = call.path.clone();
            let answer = server.send(call).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{name} {path}: {}",
                answer.text()
            );
            let (code, message) = envelope(Family::Plain, &answer.json());
            assert_eq!(code, "invalid_signature", "{name} {path}");
            assert!(message.contains(fragment), "{name} {path}: {message}");
            messages.insert(message);
        }
    }
    assert_eq!(messages.len(), 3, "three distinct messages: {messages:?}");
    for offset in [-300, 300] {
        let answer = server
            .send(
                Call::get(paths::HEALTH)
                    .version()
                    .header(HEADER, server.signature(b"", offset)),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{offset} s is within tolerance"
        );
    }
    let unsigned = server.send(Call::get(paths::HEALTH).version()).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let (code, _) = envelope(Family::Plain, &unsigned.json());
    assert_eq!(code, "invalid_signature");
    insta::assert_json_snapshot!(
        "signature_out_of_tolerance",
        server
            .send(
                Call::get(paths::HEALTH)
                    .version()
                    .header(HEADER, server.signature(b"", -301))
            )
            .await
            .json()
    );
    assert_eq!(server.admin_state().await.users, 0);
}

/// If this fails, an orchestrator's code could be exchanged by whoever
/// intercepts it, or the orchestrator itself could not exchange it.
#[tokio::test]
async fn a_signed_partner_code_needs_a_signed_exchange() {
    let server = partner_server().await;
    let answer = signed_account(
        &server,
        &json!({"id": "acctreq_stripe_1", "email": "new@example.com", "orchestrator": {"type": "stripe", "stripe": {"account": "acct_1"}}}),
    )
    .await;
    assert_eq!(answer.json()["id"], "acctreq_stripe_1");
    let code = code_of(&answer);

    let unsigned = server
        .send(
            Call::post(paths::AGENTIC_TOKEN)
                .version()
                .form(&[("grant_type", "authorization_code"), ("code", &code)]),
        )
        .await;
    assert_eq!(
        unsigned.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unsigned.text()
    );
    // Today's words (test_oauth_token.py::test_code_without_challenge_requires_authentication).
    assert_eq!(
        unsigned.json(),
        json!({"error": "invalid_request", "error_description": "Authentication required"})
    );
    // A verifier does not replace the signature.
    let with_verifier = server.exchange(&code, &"a".repeat(43)).await;
    assert_eq!(with_verifier.status, StatusCode::UNAUTHORIZED);

    let answer = signed_exchange(&server, &code).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let tokens = tokens_of(answer);
    assert_eq!(
        tokens.answer["scope"],
        joined(&ORCHESTRATOR_CEILING).as_str()
    );
    assert_eq!(
        tokens.answer["account"]["available_teams"][0]["organization_name"],
        "Stripe (integration tests) (new@example.com)"
    );
    let view = server.introspect(&tokens.access).await.json();
    assert_eq!(view["client_id"], PARTNER);
    let resource = server.provision(&tokens.access).await;
    assert_eq!(resource.status, StatusCode::OK, "{}", resource.text());
    // Single use holds for signed exchanges too.
    let again = signed_exchange(&server, &code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(envelope(Family::OAuth, &again.json()).0, "invalid_grant");
}

/// If a row fails, an orchestrator provisioning for an existing PostHog user
/// lands in the wrong project, or in someone else's.
#[tokio::test]
async fn team_resolution_for_an_existing_user() {
    let server = partner_server().await;
    let owner = server.email();
    let (code, verifier) = server.signup_as(&owner, Some(&WIZARD_SIGNUP_SCOPES)).await;
    let own = tokens_of(server.exchange(&code, verifier.as_str()).await);
    let own_team = own.answer["account"]["available_teams"][0]["id"]
        .as_i64()
        .unwrap();
    let stranger = server.tokens(None).await;
    let foreign_team = stranger.answer["account"]["available_teams"][0]["id"]
        .as_i64()
        .unwrap();
    let teams_before = server.admin_state().await.teams;

    // (name, configuration.team_id, expected: Ok(team) or Err((code, message)))
    type Expected = Result<i64, (&'static str, String)>;
    let cases: Vec<(&str, Value, Expected)> = vec![
        ("absent, one team", Value::Null, Ok(own_team)),
        ("own team as a number", json!(own_team), Ok(own_team)),
        (
            "own team as digits",
            json!(own_team.to_string()),
            Ok(own_team),
        ),
        (
            "letters",
            json!("abc"),
            Err((
                "invalid_request",
                "configuration.team_id must be an integer".into(),
            )),
        ),
        (
            "a fraction",
            json!(1.5),
            Err((
                "invalid_request",
                "configuration.team_id must be an integer".into(),
            )),
        ),
        (
            "someone else's team",
            json!(foreign_team),
            Err(("team_resolution_failed", foreign_team.to_string())),
        ),
        (
            "no such team",
            json!(999_999),
            Err(("team_resolution_failed", "999999".into())),
        ),
    ];
    for (name, team_id, expected) in cases {
        let mut body = json!({"id": format!("acctreq_{name}"), "email": owner.to_uppercase()});
        if !team_id.is_null() {
            body["configuration"] = json!({"team_id": team_id});
        }
        let answer = signed_account(&server, &body).await;
        match expected {
            Ok(team) => {
                let code = code_of(&answer);
                let tokens = tokens_of(signed_exchange(&server, &code).await);
                let resource = server.provision(&tokens.access).await.json();
                assert_eq!(resource["id"], team.to_string().as_str(), "{name}");
                let me = server.introspect(&tokens.access).await.json();
                assert_eq!(
                    me["sub"],
                    server.introspect(&own.access).await.json()["sub"],
                    "{name}"
                );
            }
            Err((code, message)) => {
                assert_eq!(
                    answer.status,
                    StatusCode::BAD_REQUEST,
                    "{name}: {}",
                    answer.text()
                );
                let json = answer.json();
                let (got, got_message) = envelope(Family::AccountRequest, &json);
                assert_eq!(got, code, "{name}");
                assert!(got_message.contains(&message), "{name}: {got_message}");
                assert_eq!(json["id"], format!("acctreq_{name}").as_str());
                if code == "team_resolution_failed" && name == "no such team" {
                    insta::assert_json_snapshot!("account_request_team_resolution_failed", json);
                }
            }
        }
    }
    assert_eq!(
        server.admin_state().await.teams,
        teams_before,
        "no team was created"
    );
}

/// A PKCE account request by `client_id`, with the signup scopes, for an
/// email that already has an account: its email, verifier and answer.
async fn existing_email_request(
    server: &Server,
    client_id: &str,
) -> (String, protocol::pkce::CodeVerifier, Value) {
    let email = server.email();
    server.signup_as(&email, None).await;
    let verifier = server.verifier();
    let mut body = server.account_request(&email, Some(&WIZARD_SIGNUP_SCOPES), &verifier);
    body["client_id"] = json!(client_id);
    let answer = server
        .send(Call::post(paths::ACCOUNT_REQUESTS).version().json(&body))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    (email, verifier, answer.json())
}

/// If this fails, a public client could obtain a code for someone else's
/// account just by knowing their email (the older eras' answer: the
/// sign-in link).
#[tokio::test]
async fn an_existing_email_through_the_wizard_must_sign_in() {
    let server = Server::of_era("ceilings").await;
    let (email, verifier, json) = existing_email_request(&server, WIZARD).await;
    assert_eq!(json["type"], "requires_auth");
    assert_eq!(json["id"], format!("acctreq_{email}_2").as_str());
    assert_eq!(json["requires_auth"]["type"], "redirect");
    let url = json["requires_auth"]["redirect"]["url"].as_str().unwrap();
    let prefix = format!("{PUBLIC_URL}{}?", paths::OAUTH_AUTHORIZE);
    assert!(url.starts_with(&prefix), "{url}");
    let query: Vec<(String, String)> = serde_urlencoded::from_str(&url[prefix.len()..]).unwrap();
    let get = |key: &str| {
        query
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    assert_eq!(get("client_id"), Some(WIZARD));
    assert_eq!(get("response_type"), Some("code"));
    assert_eq!(get("code_challenge"), Some(verifier.challenge().as_str()));
    assert_eq!(get("code_challenge_method"), Some("S256"));
    assert_eq!(get("scope"), Some(joined(&WIZARD_SIGNUP_SCOPES).as_str()));
    let state = server.admin_state().await;
    assert_eq!(
        (state.users, state.authorization_codes),
        (1, 1),
        "no code for the second request"
    );
}

/// If this fails, today's answer to an existing email is not the real
/// server's: `requires_auth.url` to `/api/agentic/authorize` with the
/// pending consent's state and the scopes, and no code for anyone.
#[tokio::test]
async fn an_existing_email_today_gets_a_consent_link_and_no_code() {
    let server = Server::current().await;
    let (_, _, json) = existing_email_request(&server, WIZARD).await;
    assert_eq!(json["type"], "requires_auth");
    assert!(json["requires_auth"].get("redirect").is_none(), "{json}");
    let url = json["requires_auth"]["url"].as_str().unwrap();
    let prefix = format!("{PUBLIC_URL}{}?", paths::AGENTIC_AUTHORIZE);
    assert!(url.starts_with(&prefix), "{url}");
    let query: Vec<(String, String)> = serde_urlencoded::from_str(&url[prefix.len()..]).unwrap();
    let get = |key: &str| {
        query
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    assert!(get("state").is_some_and(|state| state.len() >= 43), "{url}");
    // The pending consent lives 600 s.
    let state_hash = protocol::credential::hash_secret(get("state").unwrap());
    let now = server.state.clock.now();
    let pending = |at: i64| server.state.db.pending_consent(&state_hash, at);
    assert!(
        pending(now + 599).await.unwrap().is_some(),
        "alive at 599 s"
    );
    assert!(pending(now + 600).await.unwrap().is_none(), "gone at 600 s");
    assert_eq!(get("scope"), Some(joined(&WIZARD_SIGNUP_SCOPES).as_str()));
    assert_eq!(
        get("code_challenge"),
        None,
        "the challenge stays on the server"
    );
    let state = server.admin_state().await;
    assert_eq!(
        (state.users, state.authorization_codes),
        (1, 1),
        "no code for the second request"
    );
}

/// A deep-link request with the partner's token, signed by the partner
/// unless `signed` is false.
async fn partner_deep_link(server: &Server, access: &str, body: &Value, signed: bool) -> Answer {
    let text = body.to_string();
    let mut call = Call::post(paths::DEEP_LINKS).version().bearer(access);
    if signed {
        call = call.header(HEADER, server.signature(text.as_bytes(), 0));
    }
    server.send(call.raw(Some("application/json"), text)).await
}

/// One request of today's deep links and what must come of it: the
/// purpose issued, or the refusal's status, code and message.
type TodayExpected = Result<&'static str, (StatusCode, &'static str, &'static str)>;

/// If this fails, today's partners read other refusals than the real
/// server's (test_deep_links.py::test_deep_link_rejects_unsafe_path_*,
/// test_deep_link_requires_hmac_signature_for_hmac_partner), a link without
/// a purpose is refused, a person whose email is not verified is signed in
/// by a link (test_unverified_user_redirects_to_verify_email_0_false), or a
/// public client mints links
/// (test_partner_rate_limits.py::test_blocked_tier_cannot_use_deep_links).
#[tokio::test]
async fn todays_deep_links_default_the_purpose_name_refusals_and_verify_email_first() {
    let server = partner_server().await;
    let mut partner = server.state.db.application(PARTNER).await.unwrap().unwrap();
    partner.can_issue_deep_links = true;
    server.state.db.upsert_application(&partner).await.unwrap();
    let answer = signed_account(
        &server,
        &json!({"id": "acctreq_links", "email": "links@example.com", "orchestrator": {"type": "stripe", "stripe": {"account": "acct_1"}}}),
    )
    .await;
    let access = tokens_of(signed_exchange(&server, &code_of(&answer)).await).access;
    let invalid_path = (
        StatusCode::BAD_REQUEST,
        "invalid_path",
        "path must be a relative in-app path beginning with a single '/'",
    );
    let unsigned = (
        StatusCode::UNAUTHORIZED,
        "hmac_signature_required",
        "This partner's requests must carry its Stripe-Signature",
    );
    // (label, body, signed, expected)
    let cases: Vec<(&str, Value, bool, TodayExpected)> = vec![
        ("no purpose", json!({}), true, Ok("dashboard")),
        (
            "an empty purpose",
            json!({"purpose": ""}),
            true,
            Ok("dashboard"),
        ),
        (
            "a free-form label",
            json!({"purpose": "billing"}),
            true,
            Ok("billing"),
        ),
        (
            "an in-app path",
            json!({"path": "/insights/new"}),
            true,
            Ok("dashboard"),
        ),
        ("unsigned", json!({}), false, Err(unsigned)),
        (
            "protocol-relative",
            json!({"path": "//evil.example"}),
            true,
            Err(invalid_path),
        ),
        (
            "an absolute URL",
            json!({"path": "https://evil.example"}),
            true,
            Err(invalid_path),
        ),
        (
            "a newline",
            json!({"path": "/project/1\nx"}),
            true,
            Err(invalid_path),
        ),
    ];
    let me = server
        .send(Call::get("/api/users/@me/").bearer(&access))
        .await;
    let uuid = me.json()["uuid"].as_str().unwrap().to_owned();
    for (label, body, signed, expected) in cases {
        let answer = partner_deep_link(&server, &access, &body, signed).await;
        match expected {
            Ok(purpose) => {
                assert_eq!(answer.status, StatusCode::OK, "{label}: {}", answer.text());
                assert_eq!(answer.json()["purpose"], purpose, "{label}");
                let url = answer.json()["url"].as_str().unwrap().to_owned();
                let target = url.strip_prefix(PUBLIC_URL).unwrap().to_owned();
                let followed = server.send(Call::get(target)).await;
                assert_eq!(followed.status, StatusCode::FOUND, "{label}");
                let location = format!("/verify_email/{uuid}");
                assert_eq!(
                    followed.header("location"),
                    Some(location.as_str()),
                    "{label}"
                );
                assert_eq!(followed.header("set-cookie"), None, "{label}: no session");
            }
            Err((status, code, message)) => {
                assert_eq!(answer.status, status, "{label}: {}", answer.text());
                let (found, text) = envelope(Family::Plain, &answer.json());
                assert_eq!((found.as_str(), text.as_str()), (code, message), "{label}");
            }
        }
    }
    let page = server
        .send(Call::get(format!("/verify_email/{uuid}")))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("Verify your email address"),
        "{}",
        page.text()
    );

    // The wizard, a public client, mints none today, whatever its capabilities.
    let wizard = server.tokens(Some(&WIZARD_SIGNUP_SCOPES)).await;
    let answer = partner_deep_link(&server, &wizard.access, &json!({}), false).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text());
    assert_eq!(
        envelope(Family::Plain, &answer.json()),
        (
            "forbidden".to_owned(),
            "Deep links are not available to public clients".to_owned()
        )
    );
}

/// If a row fails, a Stripe-signed request under `/api/agentic` that names
/// no Stripe account is taken where the era refused it (the older real
/// server asked the Stripe Projects caller for one), or refused where
/// today's server takes it.
#[tokio::test]
async fn a_signed_request_names_its_stripe_account_in_the_eras_that_ask() {
    for (era, refused) in [
        ("legacy", true),
        ("allowlist", true),
        ("ceilings", true),
        ("current", false),
    ] {
        let server = Server::start(Options::new(era).partner()).await;
        let account = json!({"type": "stripe", "stripe": {"account": "acct_1"}});
        for (label, orchestrator) in [
            ("none", Value::Null),
            ("no account", json!({"type": "stripe", "stripe": {}})),
            (
                "another type",
                json!({"type": "other", "stripe": {"account": "acct_1"}}),
            ),
            ("named", account.clone()),
        ] {
            let mut body = json!({"id": format!("req-{label}"), "email": server.email()});
            if !orchestrator.is_null() {
                body["orchestrator"] = orchestrator;
            }
            let answer = signed_account(&server, &body).await;
            match (refused, label) {
                (true, "named") | (false, _) => {
                    assert_eq!(
                        answer.status,
                        StatusCode::OK,
                        "{era} {label}: {}",
                        answer.text()
                    )
                }
                (true, _) => {
                    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{era} {label}");
                    assert_eq!(
                        answer.json(),
                        json!({"id": format!("req-{label}"), "type": "error", "error": {
                            "code": "invalid_request",
                            "message": "orchestrator.stripe.account is required",
                        }}),
                        "{era} {label}"
                    );
                }
            }
        }
    }
}

/// If a row fails, a public partner trusted to skip consent is sent to
/// sign in (or one that is not gets a code) for an existing email: the
/// older eras honour `skip_existing_user_consent`, today's does not.
#[tokio::test]
async fn only_the_older_eras_let_a_trusted_public_partner_skip_consent() {
    const TRUSTED: &str = r#"
[[partners]]
client_id = "trusted-public"
label = "Trusted public partner"
auth_method = "pkce"
ceiling = "wizard"
capabilities = ["can_create_accounts", "can_provision_resources", "skip_existing_user_consent"]
"#;
    for (era, expected) in [("ceilings", "oauth"), ("current", "requires_auth")] {
        let server = Server::of_era(era).await;
        server::Seed::parse(TRUSTED, "trusted partner")
            .unwrap()
            .apply(&server.state.db, &server.state.policy)
            .await
            .unwrap();
        let (_, _, json) = existing_email_request(&server, "trusted-public").await;
        assert_eq!(json["type"], expected, "{era}: {json}");
    }
}

/// If this fails, a blank `organization_name` names the new organization
/// "  " instead of the partner's default.
#[tokio::test]
async fn a_blank_organization_name_gets_the_default() {
    let server = partner_server().await;
    let email = server.email();
    let answer = signed_account(
        &server,
        &json!({"id": "blank-org", "email": email, "configuration": {"organization_name": "   "}}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let code = answer.json()["oauth"]["code"].as_str().unwrap().to_owned();
    let body = serde_urlencoded::to_string([("grant_type", "authorization_code"), ("code", &code)])
        .unwrap();
    let tokens = server
        .send(
            Call::post(paths::AGENTIC_TOKEN)
                .version()
                .header(HEADER, server.signature(body.as_bytes(), 0))
                .raw(Some("application/x-www-form-urlencoded"), body),
        )
        .await
        .json();
    let organization = tokens["account"]["available_teams"][0]["organization_name"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"))
        .to_owned();
    assert!(
        organization.ends_with(&format!("({email})")),
        "{organization}"
    );
}
