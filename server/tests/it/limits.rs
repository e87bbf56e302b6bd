//! `POST /api/agentic/provisioning/limits` (protocol section 3): a partner
//! reads its own tier and budgets, proving itself with its bearer.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use protocol::paths;
use server::Seed;

use crate::support::*;

/// A public partner with its own resource-create limit.
const LIMITED: &str = r#"
[[partners]]
client_id = "pkce-limited"
label = "Limited"
auth_method = "pkce"
ceiling = "wizard"
capabilities = ["can_create_accounts", "can_provision_resources"]
rate_limits = { resource_creates = 7, account_requests = 0 }
"#;

async fn apply(server: &Server, text: &str) {
    Seed::parse(text, "limits seed")
        .expect("seed parses")
        .apply(&server.state.db, &server.state.policy)
        .await
        .expect("seed applies");
}

/// A signup and exchange by `pkce-limited`: its access token.
async fn limited_access(server: &Server) -> String {
    let verifier = server.verifier();
    let mut body = server.account_request(&server.email(), Some(&["user:read"]), &verifier);
    body["client_id"] = json!("pkce-limited");
    let answer = server
        .send(Call::post(paths::ACCOUNT_REQUESTS).version().json(&body))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let code = answer.json()["oauth"]["code"].as_str().unwrap().to_owned();
    tokens_of(server.exchange(&code, verifier.as_str()).await).access
}

async fn limits(server: &Server, call: Call) -> Answer {
    server.send(call).await
}

fn refusal(message: &str) -> Value {
    json!({"type": "error", "error": {"code": "unauthorized", "message": message}})
}

/// If this fails, a partner is told budgets that are not the ones it is
/// metered by, or is not told its deep links are barred.
#[tokio::test]
async fn a_public_partner_reads_its_tier_and_budgets_with_its_bearer() {
    let server = Server::start(Options::new("current")).await;
    apply(&server, LIMITED).await;
    let access = limited_access(&server).await;
    let answer = limits(&server, Call::post(paths::LIMITS).bearer(&access)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        answer.json(),
        json!({
            "tier": "public",
            "tier_basis": {"client_authentication": "none", "attested": false},
            "endpoints": {
                "account_requests": {"unlimited": true},
                "deep_links": {"blocked": true},
                "limits_reads": {"unlimited": true},
                "resource_creates": {"per_hour": 7, "burst": 3, "remaining": 3, "reset": 0},
                "token_exchanges": {"unlimited": true},
                "token_refreshes": {"unlimited": true},
            },
        })
    );
    // Reading the limits charges nothing.
    let again = limits(&server, Call::post(paths::LIMITS).bearer(&access)).await;
    assert_eq!(
        again.json()["endpoints"]["resource_creates"]["remaining"],
        3
    );
    assert!(again.header("ratelimit-limit").is_none());

    // A charge shows in the answer's headers and in the limits alike: one
    // of three taken, back in 3600 / 7 = 514.3 s (rounded up).
    let created = server.provision(&access).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    assert_eq!(
        (
            created.header("ratelimit-limit"),
            created.header("ratelimit-remaining"),
            created.header("ratelimit-reset")
        ),
        (Some("3"), Some("2"), Some("515"))
    );
    let after = limits(&server, Call::post(paths::LIMITS).bearer(&access)).await;
    assert_eq!(
        after.json()["endpoints"]["resource_creates"],
        json!({"per_hour": 7, "burst": 3, "remaining": 2, "reset": 515})
    );
}

/// If a row fails, a caller that proved nothing reads a partner's limits,
/// or a refusal names the wrong cause.
#[tokio::test]
async fn callers_that_prove_nothing_are_refused_with_the_cause() {
    let server = Server::start(Options::new("current").partner()).await;
    apply(&server, LIMITED).await;
    let expired = limited_access(&server).await;
    let not_registered = server::routes::limits::NOT_REGISTERED;
    let form = |client_id: &str| Call::post(paths::LIMITS).form(&[("client_id", client_id)]);
    for (label, call, message) in [
        ("nothing", Call::post(paths::LIMITS), not_registered),
        ("an unknown client_id", form("nobody"), not_registered),
        (
            "a public client_id",
            form("pkce-limited"),
            "This client must authenticate with a bearer token",
        ),
        (
            "a public client_id in the query",
            Call::post(format!("{}?client_id=pkce-limited", paths::LIMITS)),
            "This client must authenticate with a bearer token",
        ),
        (
            "an hmac partner's client_id",
            form(PARTNER),
            "This client must authenticate",
        ),
        (
            "an unknown bearer",
            Call::post(paths::LIMITS).bearer("pha_unknown"),
            "Invalid access token",
        ),
        (
            "an empty bearer",
            Call::post(paths::LIMITS).header("authorization", "Bearer "),
            "Missing bearer token",
        ),
    ] {
        let answer = limits(&server, call).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{label}");
        assert_eq!(answer.json(), refusal(message), "{label}");
    }
    // The partner's token, once expired, then once the partner is deactivated.
    server.state.clock.advance(3601).unwrap();
    let answer = limits(&server, Call::post(paths::LIMITS).bearer(&expired)).await;
    assert_eq!(answer.json(), refusal("Access token expired"));
    let fresh = limited_access(&server).await;
    apply(
        &server,
        &LIMITED.replace("rate_limits", "active = false\nrate_limits"),
    )
    .await;
    let answer = limits(&server, Call::post(paths::LIMITS).bearer(&fresh)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json(), refusal("Partner is deactivated"));
}

/// If a row fails, a partner finds the endpoint in an era that had none,
/// or a GET is answered as if it proved something.
#[tokio::test]
async fn only_today_serves_the_limits_and_only_to_a_post() {
    for era in ["legacy", "allowlist", "ceilings", "current"] {
        let server = Server::start(Options::new(era)).await;
        let post = limits(&server, Call::post(paths::LIMITS)).await;
        let get = limits(
            &server,
            Call::get(format!("{}?client_id=posthog-wizard", paths::LIMITS)),
        )
        .await;
        match era {
            "current" => {
                assert_eq!(post.status, StatusCode::UNAUTHORIZED, "{era}");
                assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED, "{era}");
                assert_eq!(get.header("allow"), Some("POST"));
                assert_eq!(get.json()["code"], "method_not_allowed");
                // Every other method too, naming POST alone (schemathesis
                // found OPTIONS advertising GET and HEAD).
                for method in [Method::OPTIONS, Method::PUT, Method::DELETE, Method::HEAD] {
                    let answer = limits(&server, Call::new(method.clone(), paths::LIMITS)).await;
                    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
                    assert_eq!(answer.header("allow"), Some("POST"), "{method}");
                }
            }
            _ => {
                assert_eq!(post.status, StatusCode::NOT_FOUND, "{era}");
                assert_eq!(get.status, StatusCode::NOT_FOUND, "{era}");
                envelope(Family::Plain, &post.json());
            }
        }
    }
}
