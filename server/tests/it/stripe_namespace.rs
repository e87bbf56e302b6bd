//! The Stripe partners' own namespace (`/api/partners/stripe/…`, protocol
//! section 3): served only in eras whose profile says so, signed, with
//! tokens a year long, and interchangeable with `/api/agentic`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use protocol::paths;
use protocol::signature::HEADER;

use crate::support::*;

const STRIPE: &str = "/api/partners/stripe";

/// A POST signed by the partner (`form`: an urlencoded body, else JSON).
async fn signed_post(server: &Server, path: &str, body: String, form: bool) -> Answer {
    let content_type = match form {
        true => "application/x-www-form-urlencoded",
        false => "application/json",
    };
    let signature = server.signature(body.as_bytes(), 0);
    server
        .send(
            Call::post(path)
                .version()
                .header(HEADER, signature)
                .raw(Some(content_type), body),
        )
        .await
}

async fn signed_code(server: &Server, namespace: &str) -> String {
    let email = server.email();
    let body = json!({
        "id": format!("acctreq-{email}"),
        "email": email,
        "scopes": ["query:read", "project:read"],
        "orchestrator": {"type": "stripe", "stripe": {"account": "acct_1"}},
    });
    let path = format!("{namespace}/provisioning/account_requests");
    let answer = signed_post(server, &path, body.to_string(), false).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()["oauth"]["code"].as_str().unwrap().to_owned()
}

async fn exchange_at(server: &Server, namespace: &str, code: &str) -> Value {
    let body = serde_urlencoded::to_string([("grant_type", "authorization_code"), ("code", code)])
        .unwrap();
    let answer = signed_post(server, &format!("{namespace}/oauth/token"), body, true).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

/// If a row fails, an orchestrator pointed at a server of that era finds
/// the namespace where the era had none, or misses it where it had one.
#[tokio::test]
async fn the_namespace_answers_only_in_eras_that_serve_it() {
    for (era, expected) in [
        ("legacy", StatusCode::NOT_FOUND),
        ("allowlist", StatusCode::NOT_FOUND),
        ("ceilings", StatusCode::NOT_FOUND),
        ("current", StatusCode::OK),
    ] {
        let server = Server::start(Options::new(era).partner()).await;
        let health = Call::get(format!("{STRIPE}/provisioning/health"))
            .version()
            .header(HEADER, server.signature(b"", 0));
        let answer = server.send(health).await;
        assert_eq!(answer.status, expected, "{era}: {}", answer.text());
        if expected == StatusCode::OK {
            // Today's catalogue: the two plans, then the deployable.
            let services = Call::get(format!("{STRIPE}/provisioning/services"))
                .version()
                .header(HEADER, server.signature(b"", 0));
            let body = server.send(services).await.json();
            let ids: Vec<&str> = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|service| service["id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, ["free", "pay_as_you_go", "analytics"], "{body}");
            assert_eq!(body["data"][2]["allowed_updates"], json!(["service_ref"]));
        }
        // /api/agentic serves the same partner in every era.
        let agentic = Call::get(paths::HEALTH)
            .version()
            .header(HEADER, server.signature(b"", 0));
        assert_eq!(server.send(agentic).await.status, StatusCode::OK, "{era}");
    }
}

/// If a row fails, Stripe's tokens expire after an hour where they should
/// last a year, or a credential minted on one namespace is refused on the
/// other while Stripe's traffic moves between them.
#[tokio::test]
async fn codes_cross_namespaces_and_the_lifetime_follows_the_token_endpoint() {
    let server = Server::start(Options::new("current").partner()).await;
    // (where the code is asked for, where it is exchanged, expires_in)
    let table = [
        (STRIPE, STRIPE, 31_536_000),
        ("/api/agentic", STRIPE, 31_536_000),
        (STRIPE, "/api/agentic", 3600),
    ];
    for (asked_at, exchanged_at, expires_in) in table {
        let code = signed_code(&server, asked_at).await;
        let tokens = exchange_at(&server, exchanged_at, &code).await;
        assert_eq!(
            tokens["expires_in"], expires_in,
            "{asked_at} → {exchanged_at}"
        );
        let team = tokens["account"]["available_teams"][0]["id"]
            .as_i64()
            .unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        let read = |signed: bool| {
            let call = Call::get(format!("{STRIPE}/provisioning/resources/{team}"))
                .version()
                .bearer(access);
            match signed {
                true => call.header(HEADER, server.signature(b"", 0)),
                false => call,
            }
        };
        let answer = server.send(read(true)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        // A bearer alone is not enough in the Stripe namespace.
        let unsigned = server.send(read(false)).await;
        assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            unsigned.json(),
            json!({"error": {"code": "invalid_signature", "message": "Signature verification failed"}})
        );
    }
}

/// If a row fails, the Stripe namespace redeems a code or rotates a token
/// of another application (the wizard's), or words a refusal differently
/// from the real server.
#[tokio::test]
async fn the_token_endpoint_serves_only_stripe_signed_partners() {
    let server = Server::start(Options::new("current").partner()).await;
    let (code, _verifier) = server.signup(None).await;
    let body = serde_urlencoded::to_string([("grant_type", "authorization_code"), ("code", &code)])
        .unwrap();
    let answer = signed_post(&server, &format!("{STRIPE}/oauth/token"), body, true).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json(),
        json!({"error": "invalid_grant", "error_description": "Authorization code was not issued for the Stripe Projects app"})
    );
    // An unsigned exchange of a Stripe code without a challenge.
    let stripe_code = signed_code(&server, STRIPE).await;
    let body =
        serde_urlencoded::to_string([("grant_type", "authorization_code"), ("code", &stripe_code)])
            .unwrap();
    let unsigned = server
        .send(
            Call::post(format!("{STRIPE}/oauth/token"))
                .version()
                .raw(Some("application/x-www-form-urlencoded"), body),
        )
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unsigned.json(),
        json!({"error": "invalid_request", "error_description": "Authentication required"})
    );

    // A refresh: the Stripe partner's own token rotates here, the
    // wizard's is refused.
    let token_path = format!("{STRIPE}/oauth/token");
    let refresh_at = |refresh: String| {
        let body = serde_urlencoded::to_string([
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .unwrap();
        signed_post(&server, &token_path, body, true)
    };
    let stripe = exchange_at(&server, STRIPE, &signed_code(&server, STRIPE).await).await;
    let own = refresh_at(stripe["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
    let wizard = server.tokens(None).await;
    let other = refresh_at(wizard.refresh).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        other.json(),
        json!({"error": "invalid_grant", "error_description": "Refresh token was not issued for the Stripe Projects app"})
    );
}

/// If a row fails, an orchestrator's project gets a second team on a retry,
/// shares the consent team, or two projects share one team.
#[tokio::test]
async fn each_project_id_gets_a_team_of_its_own() {
    let server = Server::start(Options::new("current").partner()).await;
    let code = signed_code(&server, STRIPE).await;
    let tokens = exchange_at(&server, STRIPE, &code).await;
    let consent_team = tokens["account"]["available_teams"][0]["id"]
        .as_i64()
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let create = |body: Value| {
        let text = body.to_string();
        Call::post(format!("{STRIPE}/provisioning/resources"))
            .version()
            .bearer(&access)
            .header(HEADER, server.signature(text.as_bytes(), 0))
            .raw(Some("application/json"), text)
    };
    let mut ids = Vec::new();
    for project in ["proj_a", "proj_a", "proj_b"] {
        let answer = server.send(create(json!({"project_id": project}))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let json = answer.json();
        assert!(json["complete"]["access_configuration"]["personal_api_key"]
            .as_str()
            .is_some_and(|key| key.starts_with("phx_")));
        ids.push(json["id"].as_str().unwrap().parse::<i64>().unwrap());
    }
    assert_eq!(ids[0], ids[1], "the same project twice");
    assert_ne!(ids[0], consent_team, "a project is not the consent team");
    assert_ne!(ids[0], ids[2], "two projects, two teams");
}

/// If a row fails, an orchestrator that matches refusals on the envelope's
/// exact shape (as the real namespace's tests do) sees an `id` the real
/// server leaves out, or misses one it sends: the checks before a request
/// is taken up name no request; a bad `configuration.team_id` does.
#[tokio::test]
async fn refusals_before_a_request_is_taken_up_name_no_request() {
    let server = Server::start(Options::new("current").partner()).await;
    let path = format!("{STRIPE}/provisioning/account_requests");
    let email = server.email();
    let account = json!({"type": "stripe", "stripe": {"account": "acct_1"}});
    let unsigned = server
        .send(Call::post(&path).version().json(&json!({
            "id": "req-unsigned", "email": email, "orchestrator": account,
        })))
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unsigned.json(),
        json!({"type": "error", "error": {"code": "unauthorized", "message": "Authentication required"}})
    );
    for (body, status, expected) in [
        (
            json!({"id": "req-1", "email": ""}),
            StatusCode::BAD_REQUEST,
            json!({"type": "error", "error": {"code": "invalid_request", "message": "email is required"}}),
        ),
        (
            json!({"id": "req-2", "email": email, "orchestrator": {"type": "stripe", "stripe": {}}}),
            StatusCode::BAD_REQUEST,
            json!({"type": "error", "error": {"code": "invalid_request", "message": "orchestrator.stripe.account is required"}}),
        ),
        (
            json!({"id": "req-3", "email": email, "orchestrator": account, "configuration": {"team_id": "abc"}}),
            StatusCode::BAD_REQUEST,
            json!({"id": "req-3", "type": "error", "error": {"code": "invalid_request", "message": "configuration.team_id must be an integer"}}),
        ),
    ] {
        let answer = signed_post(&server, &path, body.to_string(), false).await;
        assert_eq!(answer.status, status, "{body}");
        assert_eq!(answer.json(), expected, "{body}");
    }
}

/// If a row fails, the Stripe namespace takes up a request past its
/// `expires_at`, or takes a challenge it should refuse (a method other
/// than S256), or refuses one it should take (S256 named, or no method:
/// S256 by default; an empty challenge is no challenge).
#[tokio::test]
async fn expiry_and_challenge_method_are_checked_in_the_namespace() {
    let server = Server::start(Options::new("current").partner()).await;
    let path = format!("{STRIPE}/provisioning/account_requests");
    let verifier = server.verifier();
    let challenge = verifier.challenge().as_str().to_owned();
    let request = |extra: Value| {
        let email = server.email();
        let mut body = json!({
            "id": format!("req-{email}"),
            "email": email,
            "orchestrator": {"type": "stripe", "stripe": {"account": "acct_1"}},
        });
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body.to_string()
    };
    let message = |answer: &Answer| answer.json()["error"]["message"].clone();
    let now = server.state.clock.now();
    let at = |offset: i64| {
        chrono::DateTime::from_timestamp(now + offset, 0)
            .unwrap()
            .to_rfc3339()
    };
    for (extra, status, expected) in [
        (
            json!({"expires_at": at(0)}),
            400,
            Some("Account request has expired"),
        ),
        (
            json!({"expires_at": at(-60)}),
            400,
            Some("Account request has expired"),
        ),
        (json!({"expires_at": at(60)}), 200, None),
        (json!({"expires_at": "2099-01-01T00:00:00"}), 200, None),
        (
            json!({"expires_at": "tomorrow"}),
            400,
            Some("expires_at must be a valid ISO 8601 timestamp"),
        ),
        (
            json!({"code_challenge": challenge, "code_challenge_method": "plain"}),
            400,
            Some("Only S256 code_challenge_method is supported"),
        ),
        (
            json!({"code_challenge": challenge, "code_challenge_method": "S256"}),
            200,
            None,
        ),
        (json!({"code_challenge": challenge}), 200, None),
        (
            json!({"code_challenge": "", "code_challenge_method": "plain"}),
            200,
            None,
        ),
        (
            json!({"code_challenge": "short"}),
            400,
            Some("code_challenge must be 43-128 characters using base64url charset"),
        ),
    ] {
        let answer = signed_post(&server, &path, request(extra.clone()), false).await;
        assert_eq!(answer.status.as_u16(), status, "{extra}: {}", answer.text());
        if let Some(expected) = expected {
            assert_eq!(message(&answer), expected, "{extra}");
        }
    }
}

/// If this fails, the Stripe namespace holds a request's scopes to the
/// partner's ceiling as `/api/agentic` does (the real namespace takes them
/// as asked, duplicates dropped), or `/api/agentic` stops holding them.
#[tokio::test]
async fn the_namespace_takes_scopes_as_asked_and_agentic_holds_them_to_the_ceiling() {
    let server = Server::start(Options::new("current").partner()).await;
    let body = |email: String| {
        json!({
            "id": format!("scopes-{email}"),
            "email": email,
            "scopes": ["cohort:read", "cohort:read", "user:read"],
            "orchestrator": {"type": "stripe", "stripe": {"account": "acct_1"}},
        })
        .to_string()
    };
    let namespace = signed_post(
        &server,
        &format!("{STRIPE}/provisioning/account_requests"),
        body(server.email()),
        false,
    )
    .await;
    assert_eq!(namespace.status, StatusCode::OK, "{}", namespace.text());
    let code = namespace.json()["oauth"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let tokens = exchange_at(&server, STRIPE, &code).await;
    assert_eq!(tokens["scope"], "cohort:read user:read", "{tokens}");
    // For an existing user too (where /api/agentic checks the ceiling at
    // the request itself).
    let email = server.email();
    for round in ["first", "again"] {
        let mut request: Value = serde_json::from_str(&body(email.clone())).unwrap();
        request["id"] = json!(format!("scopes-{round}-{email}"));
        let answer = signed_post(
            &server,
            &format!("{STRIPE}/provisioning/account_requests"),
            request.to_string(),
            false,
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{round}: {}", answer.text());
        assert_eq!(answer.json()["type"], "oauth", "{round}");
    }

    let agentic = signed_post(
        &server,
        paths::ACCOUNT_REQUESTS,
        body(server.email()),
        false,
    )
    .await;
    assert_eq!(agentic.status, StatusCode::OK, "{}", agentic.text());
    // Today /api/agentic holds the scopes to the ceiling at the exchange.
    let code = agentic.json()["oauth"]["code"].as_str().unwrap().to_owned();
    let body = serde_urlencoded::to_string([("grant_type", "authorization_code"), ("code", &code)])
        .unwrap();
    let refused = signed_post(&server, paths::AGENTIC_TOKEN, body, true).await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.text()
    );
    assert_eq!(refused.json()["error"], "invalid_scope");
}
