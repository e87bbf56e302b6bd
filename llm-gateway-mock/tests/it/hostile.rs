//! Hostile input against the messages endpoint: huge headers, bodies that
//! are not UTF-8 or nest without end, wrong content types, absurd lengths,
//! SQL and path metacharacters, credentials of 10 KB. The gateway must
//! answer every one (never a 500, never a dropped connection, which is
//! what a panicking handler looks like from outside), keep serving, and
//! never write a full credential into its journal.

use std::time::Duration;

use protocol::credential::find_full_secrets;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// What a case must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Status(u16),
    /// Any answer below 500: the point is that it is not a crash.
    Answered,
}

struct Case {
    name: String,
    request: reqwest::RequestBuilder,
    expect: Expect,
}

fn case(name: impl Into<String>, request: reqwest::RequestBuilder, expect: Expect) -> Case {
    Case {
        name: name.into(),
        request,
        expect,
    }
}

async fn check(case: Case) {
    let name = case.name;
    let response = case
        .request
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{name}: no answer ({error})"));
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    eprintln!("{name:.60}: {status}");
    assert!(
        status.as_u16() < 500,
        "{name}: answered {status}: {}",
        text.chars().take(300).collect::<String>()
    );
    if let Expect::Status(expected) = case.expect {
        assert_eq!(status.as_u16(), expected, "{name}: {text:.300}");
    }
    assert!(
        find_full_secrets(&text).is_empty(),
        "{name}: the answer shows a full credential"
    );
}

/// A valid request whose text fields carry `poison`.
fn poisoned_request(poison: &str) -> Value {
    json!({
        "model": poison,
        "max_tokens": 1024,
        "system": poison,
        "metadata": {"user_id": poison},
        "messages": [
            {"role": "user", "content": format!("framework: {poison}\n{poison}")},
            {"role": "assistant", "content": poison},
            {"role": "user", "content": [{"type": "text", "text": poison}]}
        ],
        "tools": [{"name": poison, "input_schema": {"type": "object"}}]
    })
}

/// If this fails, a malicious or broken client can crash a gateway
/// request (the wizard would see a reset connection or a 500 and blame
/// PostHog), or its credential ends up in the journal in full.
#[tokio::test]
async fn hostile_requests_are_answered_without_a_crash() {
    let gateway = Gateway::start().await;
    let url = gateway.messages_url();
    let http = &gateway.http;
    let post = || http.post(&url).header("x-api-key", PAT);
    let valid = first_request("framework: next-js").to_string();
    let mut cases = Vec::new();

    // Huge headers, below and above what the HTTP layer takes.
    for size in [8 * 1024, 60 * 1024] {
        cases.push(case(
            format!("a {size}-byte header"),
            post()
                .header("x-padding", "a".repeat(size))
                .header("content-type", "application/json")
                .body(valid.clone()),
            Expect::Status(200),
        ));
    }
    let mut many = post().header("content-type", "application/json");
    for index in 0..90 {
        many = many.header(format!("x-header-{index}"), "value");
    }
    cases.push(case(
        "90 headers",
        many.body(valid.clone()),
        Expect::Status(200),
    ));
    cases.push(case(
        "a 16 KB request id",
        post()
            .header("x-request-id", "r".repeat(16 * 1024))
            .header("content-type", "application/json")
            .body(valid.clone()),
        Expect::Status(200),
    ));

    // Bodies that are not what they claim.
    let invalid_utf8: Vec<u8> = [&b"{\"model\":\""[..], &[0xff, 0xfe, 0xc3, 0x28], b"\"}"].concat();
    cases.push(case(
        "invalid UTF-8 inside a JSON string",
        post()
            .header("content-type", "application/json")
            .body(invalid_utf8),
        Expect::Status(400),
    ));
    cases.push(case(
        "random bytes",
        post().header("content-type", "application/json").body(
            (0..4096u32)
                .map(|n| (n * 131 % 251) as u8)
                .collect::<Vec<u8>>(),
        ),
        Expect::Status(400),
    ));
    for depth in [200, 100_000] {
        cases.push(case(
            format!("arrays nested {depth} deep"),
            post()
                .header("content-type", "application/json")
                .body(format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
            Expect::Status(400),
        ));
        let nested = format!(
            r#"{{"model":"m","max_tokens":1,"messages":[{{"role":"user","content":{}1{}}}]}}"#,
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        );
        cases.push(case(
            format!("message content nested {depth} deep"),
            post()
                .header("content-type", "application/json")
                .body(nested),
            Expect::Status(400),
        ));
    }
    cases.push(case(
        "an empty body",
        post().header("content-type", "application/json"),
        Expect::Status(400),
    ));
    cases.push(case(
        "JSON null",
        post()
            .header("content-type", "application/json")
            .body("null"),
        Expect::Status(400),
    ));

    // Content types.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "",
    ] {
        cases.push(case(
            format!("content type {content_type:?}"),
            post()
                .header("content-type", content_type)
                .body(valid.clone()),
            Expect::Status(400),
        ));
    }
    cases.push(case(
        "a content type that is not UTF-8",
        post()
            .header(
                "content-type",
                reqwest::header::HeaderValue::from_bytes(b"application/json\xe9").unwrap(),
            )
            .body(valid.clone()),
        Expect::Status(400),
    ));
    cases.push(case(
        "no content type",
        post().body(valid.clone()),
        Expect::Status(400),
    ));
    for content_type in ["APPLICATION/JSON", "application/json; charset=latin1"] {
        cases.push(case(
            format!("content type {content_type:?}"),
            post()
                .header("content-type", content_type)
                .body(valid.clone()),
            Expect::Status(200),
        ));
    }

    // Absurd lengths and numbers.
    cases.push(case(
        "a 5 MB body",
        post()
            .header("content-type", "application/json")
            .body(format!(r#"{{"model":"{}"}}"#, "m".repeat(5 * 1024 * 1024))),
        Expect::Status(413),
    ));
    cases.push(case(
        "256 KB in every text field (1.8 MB in all)",
        post().json(&poisoned_request(&"m".repeat(256 * 1024))),
        Expect::Status(200),
    ));
    cases.push(case(
        "1 MB in every text field (over the 4 MiB limit)",
        post().json(&poisoned_request(&"m".repeat(1024 * 1024))),
        Expect::Status(413),
    ));
    cases.push(case(
        "100,000 messages",
        post().json(&json!({
            "model": "m",
            "max_tokens": 1,
            "messages": vec![json!({"role": "user", "content": "hi"}); 100_000],
        })),
        Expect::Answered,
    ));
    for max_tokens in [
        json!(u64::MAX),
        json!(-1),
        json!(1e308),
        json!("8192"),
        json!(null),
    ] {
        cases.push(case(
            format!("max_tokens {max_tokens}"),
            post().json(&json!({"model": "m", "max_tokens": max_tokens, "messages": []})),
            Expect::Status(400),
        ));
    }
    cases.push(case(
        "stream is not a boolean",
        post().json(&json!({"model": "m", "max_tokens": 1, "messages": [], "stream": "yes"})),
        Expect::Answered,
    ));

    // SQL and path metacharacters where text goes.
    for poison in [
        "'; DROP TABLE users; --",
        "\" OR 1=1 --",
        "../../../../etc/passwd",
        "..\\..\\windows\\system32",
        "/dev/zero",
        "next-js/../../../fixtures",
        "%2e%2e%2f%2e%2e%2f",
        "\u{0}\u{1}\u{7f}",
        "{{framework}} ${HOME} $(id) `id`",
        "\u{202e}evil\u{feff}",
    ] {
        cases.push(case(
            format!("poison {poison:?}"),
            post().json(&poisoned_request(poison)),
            Expect::Answered,
        ));
    }
    for path in [
        "/wizard/v1/messages/../../_admin/journal",
        "/wizard/v1/%2e%2e/%2e%2e/_admin/journal",
        "/wizard/v1/messages%00",
        "/wizard/v1/messages;DROP TABLE",
        "/wizard//v1//messages",
    ] {
        cases.push(case(
            format!("path {path:?}"),
            http.post(format!("{}{path}", gateway.base))
                .header("x-api-key", PAT)
                .header("content-type", "application/json")
                .body(valid.clone()),
            Expect::Answered,
        ));
    }

    // Credentials of absurd length and shape.
    let long_pat = format!("phx_{}", "A".repeat(10 * 1024));
    let long_access = format!("pha_{}", "b-_".repeat(3 * 1024 + 500));
    let long_junk = "Z".repeat(10 * 1024);
    for (name, credential) in [
        ("a 10 KB phx_ in x-api-key", long_pat.as_str()),
        ("a 10 KB pha_ in x-api-key", long_access.as_str()),
        ("10 KB of junk in x-api-key", long_junk.as_str()),
    ] {
        cases.push(case(
            name,
            http.post(&url)
                .header("x-api-key", credential)
                .json(&first_request("framework: next-js")),
            Expect::Status(401),
        ));
    }
    cases.push(case(
        "a 10 KB phx_ as a bearer token",
        http.post(&url)
            .bearer_auth(&long_pat)
            .json(&first_request("framework: next-js")),
        Expect::Status(401),
    ));
    cases.push(case(
        "a credential with bytes that are not UTF-8",
        http.post(&url)
            .header(
                "x-api-key",
                reqwest::header::HeaderValue::from_bytes(b"phx_\xff\xfe\x80abc").unwrap(),
            )
            .json(&first_request("framework: next-js")),
        Expect::Status(401),
    ));
    let secret_request_id = format!("phx_{}", "R".repeat(40));
    cases.push(case(
        "a credential as the request id",
        post()
            .header("x-request-id", secret_request_id.as_str())
            .json(&first_request("framework: next-js")),
        Expect::Status(200),
    ));
    cases.push(case(
        "a credential in the path",
        http.post(format!("{url}/{long_pat}"))
            .header("x-api-key", long_pat.as_str())
            .json(&first_request("framework: next-js")),
        Expect::Answered,
    ));

    let count = cases.len();
    for case in cases {
        check(case).await;
    }

    // Still serving, and the journal shows no credential in full.
    let ready = http
        .get(format!("{}/readyz", gateway.base))
        .send()
        .await
        .expect("the gateway still answers");
    assert_eq!(ready.status(), StatusCode::OK);
    let journal = gateway.journal_text().await;
    assert_eq!(find_full_secrets(&journal), Vec::<String>::new());
    for secret in [&long_pat, &long_access, &secret_request_id] {
        assert!(
            !journal.contains(&secret[4..40]),
            "a credential's body is in the journal"
        );
    }
    let entries: protocol::admin::Journal = serde_json::from_str(&journal).unwrap();
    assert!(
        entries.entries.len() >= count / 2,
        "{count} cases, journal {}",
        entries.entries.len()
    );
    assert!(entries.entries.iter().all(|entry| entry.status < 500));
}

/// Sends raw bytes and reads the status line, if any comes back.
async fn raw(gateway: &Gateway, request: &[u8], close_write: bool) -> Option<u16> {
    let address = gateway.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.ok()?;
    if close_write {
        stream.shutdown().await.ok()?;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    match read.await {
        Ok(_) => {}
        Err(_) => panic!("the gateway neither answered nor closed within 10 s"),
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    status.parse().ok()
}

/// If this fails, a client that lies about its body's length, or sends a
/// header block no server should read, ties up or crashes the gateway.
#[tokio::test]
async fn lying_and_oversized_requests_on_a_raw_socket() {
    let gateway = Gateway::start().await;
    let claims_ten_gigabytes = format!(
        "POST /wizard/v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: {PAT}\r\n\
         content-type: application/json\r\ncontent-length: 10737418240\r\n\
         connection: close\r\n\r\n{{\"model\":"
    );
    let status = raw(&gateway, claims_ten_gigabytes.as_bytes(), true).await;
    assert!(
        status.is_none_or(|status| status < 500),
        "a lying content-length: {status:?}"
    );
    let bad_length = format!(
        "POST /wizard/v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: {PAT}\r\n\
         content-length: -1\r\nconnection: close\r\n\r\n"
    );
    let status = raw(&gateway, bad_length.as_bytes(), true).await;
    assert!(
        status.is_none_or(|status| (400..500).contains(&status)),
        "{status:?}"
    );
    // A megabyte of header: the HTTP layer refuses it (431) or closes.
    let huge = format!(
        "POST /wizard/v1/messages HTTP/1.1\r\nhost: x\r\nx-padding: {}\r\nconnection: close\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let status = raw(&gateway, huge.as_bytes(), false).await;
    assert!(
        status.is_none_or(|status| (400..500).contains(&status)),
        "{status:?}"
    );
    // Dot segments sent as they are (a client library would resolve them):
    // none may reach the admin journal without its token.
    for path in [
        "/wizard/v1/../../_admin/journal",
        "/wizard/v1/%2e%2e/%2e%2e/_admin/journal",
        "/_admin/./journal",
        "//_admin/journal",
        "/_admin/journal%00",
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        let status = raw(&gateway, request.as_bytes(), true).await;
        assert!(
            status.is_none_or(|status| (400..500).contains(&status)),
            "GET {path} without the admin token: {status:?}"
        );
    }
    let garbage = raw(&gateway, b"\x00\x01\x02 NOT HTTP\r\n\r\n", true).await;
    assert!(
        garbage.is_none_or(|status| (400..500).contains(&status)),
        "{garbage:?}"
    );
    // Still serving.
    let answer = gateway
        .post_messages(PAT, &first_request("framework: next-js"))
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
}

/// How many mutated bodies [`mutated_bodies_are_answered_without_a_crash`]
/// sends: a few in `cargo test`, thousands under `RELIABILITY_FULL=1`
/// (`just reliability`).
fn mutated_body_count() -> usize {
    match std::env::var("RELIABILITY_FULL").as_deref() {
        Ok("1") => 5_000,
        _ => 100,
    }
}

/// The valid first request, damaged one seeded way or another: truncated,
/// bytes flipped, a slice repeated, a structural character inserted.
fn mutated(valid: &[u8], random: &mut rand::rngs::StdRng) -> Vec<u8> {
    use rand::Rng;
    let mut body = valid.to_vec();
    for _ in 0..random.gen_range(1..=4) {
        let at = random.gen_range(0..body.len().max(1));
        match random.gen_range(0..4) {
            0 => body.truncate(at),
            1 => {
                if let Some(byte) = body.get_mut(at) {
                    *byte ^= 1 << random.gen_range(0..8);
                }
            }
            2 => {
                let end = (at + random.gen_range(1..64)).min(body.len());
                let slice = body[at..end].to_vec();
                for _ in 0..random.gen_range(1..200) {
                    body.splice(at..at, slice.iter().copied());
                }
            }
            _ => {
                let inserted =
                    [b'{', b'[', b'"', b'\\', b',', b':', 0, 0xff][random.gen_range(0..8)];
                body.insert(at.min(body.len()), inserted);
            }
        }
    }
    body
}

/// If this fails, some damaged body (a truncated stream, a flipped bit, a
/// repeated slice) crashes a gateway request or earns a 5xx. The count
/// grows under `just reliability`, as its recipe promises.
#[tokio::test]
async fn mutated_bodies_are_answered_without_a_crash() {
    use rand::SeedableRng;
    let gateway = Gateway::start().await;
    let url = gateway.messages_url();
    let valid = first_request("framework: next-js").to_string().into_bytes();
    let mut random = rand::rngs::StdRng::seed_from_u64(20261205);
    let count = mutated_body_count();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for index in 0..count {
        let body = mutated(&valid, &mut random);
        let response = gateway
            .http
            .post(&url)
            .header("x-api-key", PAT)
            .header("content-type", "application/json")
            .body(body.clone())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap_or_else(|error| panic!("mutation {index}: no answer ({error})"));
        let status = response.status().as_u16();
        assert!(
            status < 500,
            "mutation {index} answered {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        );
        *statuses.entry(status).or_default() += 1;
    }
    eprintln!("{count} mutated bodies: {statuses:?}");
    let ready = gateway
        .http
        .get(format!("{}/readyz", gateway.base))
        .send()
        .await
        .expect("the gateway still answers");
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        find_full_secrets(&gateway.journal_text().await),
        Vec::<String>::new()
    );
}
