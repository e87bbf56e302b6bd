//! Hostile input at every documented endpoint, found from the OpenAPI
//! document itself, so an endpoint added later is swept without anyone
//! remembering to add it here. A user would see a 500, a hang or a server
//! that changed state on a request it refused if one of these failed.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Call, Server};

/// Values substituted for `{id}` path parameters.
fn ids(real: i64) -> Vec<String> {
    vec![
        real.to_string(),
        "abc".into(),
        "-1".into(),
        "99999999999999999999999".into(),
        "%2e%2e%2f%2e%2e".into(),
        "1%27%3B%20DROP%20TABLE%20users%3B--".into(),
    ]
}

/// Bodies that are wrong in every way a body can be.
fn bodies() -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
    let nested = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let huge = format!("{{\"email\":\"{}@example.com\"}}", "a".repeat(70 * 1024));
    vec![
        ("no body", None, Vec::new()),
        ("empty object", Some("application/json"), b"{}".to_vec()),
        ("truncated JSON", Some("application/json"), b"{\"email\": ".to_vec()),
        ("deeply nested", Some("application/json"), nested.into_bytes()),
        ("invalid UTF-8", Some("application/json"), vec![b'{', b'"', 0xff, 0xfe, b'"', b'}']),
        ("over 64 KiB", Some("application/json"), huge.into_bytes()),
        ("wrong content type", Some("text/plain"), b"email=a@example.com".to_vec()),
        (
            "form where JSON is expected",
            Some("application/x-www-form-urlencoded"),
            b"grant_type=authorization_code&code=%00%ff&email=%27%3B--".to_vec(),
        ),
        (
            "metacharacters in every field",
            Some("application/json"),
            br#"{"id":"'; DROP TABLE users;--","email":"../../etc/passwd@x.y","name":"<script>","scopes":["*","../"],"client_id":"\u0000","code_challenge":"%00","purpose":"dashboard","path":"//evil.example","configuration":{"team_id":"1 OR 1=1","project_name":"'\""}}"#.to_vec(),
        ),
        ("a JSON array", Some("application/json"), b"[1,2,3]".to_vec()),
        ("a JSON string", Some("application/json"), b"\"hello\"".to_vec()),
    ]
}

#[tokio::test]
async fn no_documented_endpoint_answers_500_or_changes_state_when_it_refuses() {
    let server = Server::current().await;
    let tokens = server
        .tokens(Some(&["user:read", "project:read", "llm_gateway:read"]))
        .await;
    let provisioned = server.provision(&tokens.access).await.json();
    let team: i64 = provisioned["id"].as_str().unwrap().parse().unwrap();
    let document = serde_json::to_value(server::openapi()).unwrap();
    let mut sent = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let paths: Vec<String> = if template.contains('{') {
                ids(team)
                    .into_iter()
                    .map(|id| template.replace("{id}", &id))
                    .collect()
            } else {
                vec![template.clone()]
            };
            for path in &paths {
                for credential in [None, Some(tokens.access.as_str())] {
                    // State is compared around each group of requests; a
                    // group with an accepted request (a valid token and an
                    // empty body may legitimately provision) is not
                    // compared.
                    let before = server.admin_state().await;
                    let mut all_refused = true;
                    for (label, content_type, body) in bodies() {
                        let mut call = Call::new(method.clone(), path.clone())
                            .version()
                            .raw(content_type, body);
                        if let Some(credential) = credential {
                            call = call.bearer(credential);
                        }
                        // `send` itself fails the test on a 500 or a
                        // missing x-request-id.
                        let answer = server.send(call).await;
                        sent += 1;
                        all_refused &= answer.status.is_client_error();
                        let text = answer.text();
                        let leaked: Vec<String> = protocol::credential::find_full_secrets(&text)
                            .into_iter()
                            .filter(|secret| !is_minted_by(&answer_json(&text), secret))
                            .collect();
                        assert!(
                            leaked.is_empty(),
                            "{method} {path} ({label}) echoed a credential: {text}"
                        );
                    }
                    let after = server.admin_state().await;
                    if all_refused {
                        assert_eq!(
                            before, after,
                            "{method} {path}: every request was refused, yet state changed"
                        );
                    }
                }
            }
        }
    }
    assert!(sent > 300, "the sweep reached {sent} requests");
}

fn answer_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Credentials an answer legitimately hands out (token and resource
/// answers), as opposed to one echoed from the request.
fn is_minted_by(answer: &Value, secret: &str) -> bool {
    [
        "/access_token",
        "/refresh_token",
        "/complete/access_configuration/personal_api_key",
    ]
    .iter()
    .any(|pointer| answer.pointer(pointer).and_then(Value::as_str) == Some(secret))
}

/// If this fails, a path parameter that is not UTF-8 once percent-decoded
/// reaches axum's own `text/plain` 400 (issue 14, class 7). Every
/// documented route with a path parameter, each of its methods, gets
/// `%FF` (and an overlong `%C0%AF`) where the parameter goes: the answer is
/// below 500 and in the route's own format (JSON, or the app's HTML page),
/// never axum's plain text.
#[tokio::test]
async fn a_path_parameter_that_is_not_utf8_is_answered_in_the_family() {
    let server = Server::current().await;
    let document = serde_json::to_value(server::openapi()).unwrap();
    let mut tried = 0;
    for (template, operations) in document["paths"].as_object().unwrap() {
        if !template.contains('{') {
            continue;
        }
        for method in operations.as_object().unwrap().keys() {
            let Ok(method) = method.to_uppercase().parse::<axum::http::Method>() else {
                continue;
            };
            for bad in ["%FF", "%C0%AF"] {
                let path: String = template
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') {
                            bad
                        } else {
                            segment
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let answer = server
                    .send(
                        Call::new(method.clone(), &path)
                            .version()
                            .bearer("pha_not_a_live_token")
                            .json(&serde_json::json!({})),
                    )
                    .await;
                let content_type = answer.header("content-type").unwrap_or_default();
                assert!(
                    !content_type.starts_with("text/plain"),
                    "{method} {path} answered axum's plain text: {} {}",
                    answer.status,
                    answer.text()
                );
                assert!(
                    answer.status.as_u16() < 500,
                    "{method} {path}: {}",
                    answer.status
                );
                tried += 1;
            }
        }
    }
    assert!(tried >= 10, "only {tried} routes with a path parameter");
}

/// If this fails, a repeated query field on one of the app's pages gets
/// axum's own `text/plain` 400 (issue 14, class 7): the page renders with
/// the first value, as a browser page would.
#[tokio::test]
async fn a_repeated_query_field_still_renders_the_page() {
    let server = Server::current().await;
    for path in [
        "/?error=expired_or_invalid_token&error=missing_token",
        "/?error=%FF&error",
        "/agentic/account-mismatch?expected_email=a%40b.co&expected_email=c%40d.co&partner_name=Acme",
        "/agentic/account-mismatch?%ZZ=&=&&",
    ] {
        let answer = server.send(Call::get(path)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text());
        let content_type = answer.header("content-type").unwrap_or_default();
        assert!(content_type.starts_with("text/html"), "{path}: {content_type}");
    }
    let answer = server
        .send(Call::get(
            "/?error=expired_or_invalid_token&error=missing_token",
        ))
        .await;
    let first = server
        .send(Call::get("/?error=expired_or_invalid_token"))
        .await;
    assert_eq!(answer.text(), first.text(), "the first value wins");
}
