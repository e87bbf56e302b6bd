//! `POST /oauth/introspect` (RFC 7662, protocol section 5): who may ask,
//! and what a dead credential looks like.

use axum::http::StatusCode;
use base64::Engine;

use protocol::paths;

use crate::support::*;

/// If a row fails, someone other than the registered gateway could probe
/// which credentials are live.
#[tokio::test]
async fn only_a_registered_resource_server_may_introspect() {
    let server = Server::start(Options::new("current").partner()).await;
    let tokens = server.tokens(None).await;
    let encoded = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let gateway = protocol::oauth::DEV_INTROSPECTION_CLIENT_ID;
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no Authorization", None),
        (
            "Bearer instead of Basic",
            Some(format!("Bearer {}", tokens.access)),
        ),
        (
            "wrong secret",
            Some(format!("Basic {}", encoded(&format!("{gateway}:wrong")))),
        ),
        (
            "empty secret",
            Some(format!("Basic {}", encoded(&format!("{gateway}:")))),
        ),
        ("no colon", Some(format!("Basic {}", encoded(gateway)))),
        (
            "unknown client",
            Some(format!(
                "Basic {}",
                encoded("someone:llm-gateway-dev-secret")
            )),
        ),
        (
            "a partner, not a resource server",
            Some(format!(
                "Basic {}",
                encoded(&format!("{PARTNER}:{PARTNER_SECRET}"))
            )),
        ),
        (
            "a public partner",
            Some(format!("Basic {}", encoded(&format!("{WIZARD}:")))),
        ),
        ("not base64", Some("Basic !!!".to_owned())),
        ("scheme only", Some("Basic".to_owned())),
    ];
    for (name, authorization) in cases {
        let mut call = Call::post(paths::INTROSPECT).form(&[("token", &tokens.access)]);
        if let Some(value) = authorization {
            call = call.header("authorization", value);
        }
        let answer = server.send(call).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {}",
            answer.text()
        );
        let (code, _) = envelope(Family::OAuth, &answer.json());
        assert_eq!(code, "invalid_client", "{name}");
    }
    let refused = server
        .send(Call::post(paths::INTROSPECT).form(&[("token", &tokens.access)]))
        .await;
    insta::assert_json_snapshot!("introspection_invalid_client", refused.json());
}

/// If a row fails, the gateway would let a dead or wrong-kind credential
/// through, or learn more about it than "not active".
#[tokio::test]
async fn anything_but_a_live_pha_or_phx_is_exactly_inactive() {
    let server = Server::current().await;
    let tokens = server.tokens(None).await;
    let rotated = server.tokens(None).await;
    tokens_of(server.refresh(&rotated.refresh, None).await);
    let project_key = server.provision(&tokens.access).await.json()["complete"]
        ["access_configuration"]["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let inactive = [
        ("unknown pha_", format!("pha_{}", "A".repeat(43))),
        ("unknown phx_", format!("phx_{}", "A".repeat(43))),
        ("a refresh token", tokens.refresh.clone()),
        ("a project key", project_key),
        ("a revoked access token", rotated.access.clone()),
        ("no prefix", "sk-ant-0123456789".to_owned()),
        ("prefix only", "pha_".to_owned()),
        ("with a newline", format!("{}\n", tokens.access)),
        ("a space", " ".to_owned()),
        (
            "empty, as the gateway's readiness probe sends",
            String::new(),
        ),
        ("invalid UTF-8, decoded lossily", "pha_\u{fffd}".to_owned()),
    ];
    for (name, token) in inactive {
        let answer = server.introspect(&token).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.text());
        assert_eq!(answer.text(), r#"{"active":false}"#, "{name}");
    }
    assert_eq!(
        server.introspect(&tokens.access).await.json()["active"],
        true
    );
}
