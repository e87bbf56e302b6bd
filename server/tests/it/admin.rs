//! The simulator's admin routes (protocol section 10).

use axum::http::StatusCode;
use serde_json::json;

use protocol::admin::ClockAnswer;
use protocol::paths;

use crate::support::*;

const ADMIN_ROUTES: [(&str, &str); 5] = [
    ("GET", paths::ADMIN_JOURNAL),
    ("GET", paths::ADMIN_STATE),
    ("GET", paths::ADMIN_CLOCK),
    ("POST", paths::ADMIN_CLOCK),
    ("POST", paths::ADMIN_RESET),
];

fn call(method: &str, path: &str) -> Call {
    let call = Call::new(method.parse().unwrap(), path);
    if method == "POST" && path == paths::ADMIN_CLOCK {
        return call.json(&json!({"advance_seconds": 1}));
    }
    call
}

/// If this fails, a server started without `--admin-token` would let anyone
/// reset it or move its clock.
#[tokio::test]
async fn admin_routes_do_not_exist_without_an_admin_token() {
    let server = Server::start(Options::new("current").without_admin()).await;
    for (method, path) in ADMIN_ROUTES {
        for call in [call(method, path), call(method, path).bearer(ADMIN_TOKEN)] {
            let answer = server.send(call).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
}

/// If this fails, anyone who can reach the port could reset the server.
#[tokio::test]
async fn admin_routes_need_the_bearer() {
    let server = Server::current().await;
    for (method, path) in ADMIN_ROUTES {
        for (name, call) in [
            ("no bearer", call(method, path)),
            ("wrong bearer", call(method, path).bearer("not-the-token")),
            ("Basic", call(method, path).basic("admin", ADMIN_TOKEN)),
        ] {
            let answer = server.send(call).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path}: {name}"
            );
            let (code, _) = envelope(Family::Plain, &answer.json());
            assert_eq!(code, "unauthorized");
        }
    }
    assert_eq!(
        server.state.clock.offset(),
        0,
        "a refused POST moved the clock"
    );
}

/// If this fails, scenarios cannot expire codes and tokens without waiting.
#[tokio::test]
async fn the_clock_reads_and_advances() {
    let server = Server::current().await;
    let read = |answer: Answer| -> ClockAnswer {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        serde_json::from_slice(&answer.body).unwrap()
    };
    let now = read(
        server
            .send(Call::get(paths::ADMIN_CLOCK).bearer(ADMIN_TOKEN))
            .await,
    );
    assert_eq!(
        now,
        ClockAnswer {
            now: NOW,
            offset_seconds: 0
        }
    );
    let advanced = read(
        server
            .send(
                Call::post(paths::ADMIN_CLOCK)
                    .bearer(ADMIN_TOKEN)
                    .json(&json!({"advance_seconds": 301})),
            )
            .await,
    );
    assert_eq!(
        advanced,
        ClockAnswer {
            now: NOW + 301,
            offset_seconds: 301
        }
    );
    assert_eq!(server.state.clock.now(), NOW + 301);
    for (name, body) in [
        (
            "not a number",
            Call::post(paths::ADMIN_CLOCK)
                .bearer(ADMIN_TOKEN)
                .json(&json!({"advance_seconds": "soon"})),
        ),
        (
            "missing",
            Call::post(paths::ADMIN_CLOCK)
                .bearer(ADMIN_TOKEN)
                .json(&json!({})),
        ),
        (
            "not JSON",
            Call::post(paths::ADMIN_CLOCK)
                .bearer(ADMIN_TOKEN)
                .raw(Some("application/json"), "{"),
        ),
    ] {
        let answer = server.send(body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{name}");
        let (code, message) = envelope(Family::Plain, &answer.json());
        assert_eq!(code, "invalid_request", "{name}");
        if name != "not JSON" {
            assert!(message.contains("advance_seconds"), "{name}: {message}");
        }
    }
    assert_eq!(server.state.clock.offset(), 301);
}

/// If this fails, a scenario that resets between steps would lose the
/// partners (and every later signup would be refused) or keep old accounts.
#[tokio::test]
async fn reset_forgets_accounts_but_keeps_partners() {
    let server = Server::issuing_keys().await;
    let tokens = server.tokens(None).await;
    server.provision(&tokens.access).await;
    let before = server.admin_state().await;
    assert_eq!((before.users, before.personal_api_keys), (1, 1));
    let answer = server
        .send(Call::post(paths::ADMIN_RESET).bearer(ADMIN_TOKEN))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"status": "reset"}));
    assert_eq!(
        server.admin_state().await,
        protocol::admin::StateSummary::default()
    );
    let journal = server
        .send(Call::get(paths::ADMIN_JOURNAL).bearer(ADMIN_TOKEN))
        .await
        .json();
    assert_eq!(journal["entries"], json!([]));
    assert_eq!(
        server.introspect(&tokens.access).await.text(),
        r#"{"active":false}"#
    );
    // The wizard application (and the gateway's client) are still there.
    let again = server.tokens(None).await;
    assert_eq!(
        server.introspect(&again.access).await.json()["active"],
        true
    );
    assert_eq!(server.admin_state().await.users, 1);
}

/// If this fails, an advance near `i64::MAX` wraps the clock silently
/// (issue 14, class 7): one that would leave 1970..9999 is refused with
/// `400 invalid_request` in the plain envelope and moves nothing.
#[tokio::test]
async fn an_advance_out_of_range_is_refused() {
    let server = Server::current().await;
    for seconds in [i64::MAX, i64::MIN, -NOW - 1, 253_402_300_800 - NOW] {
        let answer = server
            .send(
                Call::post(paths::ADMIN_CLOCK)
                    .bearer(ADMIN_TOKEN)
                    .json(&json!({ "advance_seconds": seconds })),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{seconds}: {}",
            answer.text()
        );
        assert_eq!(
            answer.json()["error"]["code"],
            "invalid_request",
            "{}",
            answer.text()
        );
        assert_eq!(server.state.clock.offset(), 0, "{seconds} moved the clock");
    }
}
