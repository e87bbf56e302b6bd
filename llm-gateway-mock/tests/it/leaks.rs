//! The leak scan, fed (issue 14, class 3), at the gateway: the real
//! `llm-gateway-mock` binary, logging at `debug`, in front of the fake
//! introspection, is handed live credentials of every kind (a `pha_` and a
//! `phx_` introspection calls live, a `phr_`, its own `phs_` mint key, a
//! `phe_` it minted, and, shaped as the server makes them, an
//! authorization code, a session id and an hmac signing secret) through
//! every caller-controlled field it has: the Messages and Responses bodies,
//! the mint request, paths and query strings, `x-request-id`, `User-Agent`,
//! `x-api-key`, `Authorization` in every scheme, cookies. Then every
//! answer, the journal, the process's log, the request ids it forwarded
//! to introspection and the live view's kept headers and bodies of each
//! exchange (`GET /_admin/exchanges/{id}`, asked for from the start) are
//! searched for each credential, whole or its random part alone. If this fails, a credential sent in the wrong place reaches
//! an operator's log, the journal or the provisioning server's logs.

use std::collections::BTreeSet;
use std::process::Stdio;

use protocol::credential::{find_full_secrets, redact_secret_shaped, Credential, CredentialKind};
use protocol::oauth::{IntrospectionAnswer, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_PERSONAL_API_KEY};
use protocol::random::{OsRandom, RandomSource};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use crate::support::{first_request, start_introspection, ADMIN_TOKEN};

/// A credential handed to the gateway, and its random part.
struct Fed {
    kind: &'static str,
    value: String,
}

impl Fed {
    fn random_part(&self) -> &str {
        match CredentialKind::of(&self.value) {
            Some(kind) => &self.value[kind.prefix().len()..],
            None => &self.value,
        }
    }

    fn shows_in(&self, text: &str) -> bool {
        text.contains(self.random_part())
    }
}

/// One answer: its status line and headers, and its body.
struct Seen {
    label: String,
    head: String,
    body: String,
}

/// 32 random bytes in URL-safe base64: the shape of the server's codes
/// and session ids.
fn random_part(random: &dyn RandomSource) -> String {
    let drawn = Credential::generate(CredentialKind::AccessToken, random);
    drawn.expose()["pha_".len()..].to_owned()
}

fn live(scope: &str, token_type: &str, client_id: Option<&str>) -> IntrospectionAnswer {
    IntrospectionAnswer {
        active: true,
        scope: Some(scope.to_owned()),
        client_id: client_id.map(str::to_owned),
        token_type: Some(token_type.to_owned()),
        exp: Some(4_000_000_000),
        iat: Some(1_700_000_000),
        sub: Some("0190aaaa-0000-7000-8000-000000000001".to_owned()),
        scoped_teams: Some(vec![1]),
        region: Some("us".to_owned()),
    }
}

fn mint_request() -> Value {
    json!({
        "cap_usd": "20.000000",
        "ttl_seconds": 3600,
        "product": "wizard:posthog-integration",
        "obo": "0190aaaa-0000-7000-8000-00000000000a",
        "user": "distinct-fake-1",
    })
}

#[tokio::test]
async fn credentials_fed_through_every_field_never_reach_a_log_a_journal_or_an_echo() {
    let random = OsRandom;
    let access = Credential::generate(CredentialKind::AccessToken, &random);
    let personal_key = Credential::generate(CredentialKind::PersonalApiKey, &random);
    let refresh = Credential::generate(CredentialKind::RefreshToken, &random);
    let mint_key = Credential::generate(CredentialKind::GatewayMintKey, &random);
    let (introspection, introspection_url) = start_introspection().await;
    introspection.answers.lock().unwrap().extend([
        (
            access.expose().to_owned(),
            live(
                "user:read llm_gateway:read",
                TOKEN_TYPE_ACCESS_TOKEN,
                Some("posthog-wizard"),
            ),
        ),
        (
            personal_key.expose().to_owned(),
            live("llm_gateway:read", TOKEN_TYPE_PERSONAL_API_KEY, None),
        ),
    ]);

    let log = std::env::temp_dir().join(format!(
        "gateway-leaks-{}-{}.log",
        std::process::id(),
        random_part(&random)
    ));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-gateway-mock"))
        .args(["--bind", "127.0.0.1:0", "--introspection-url"])
        .arg(&introspection_url)
        .args(["--admin-token", ADMIN_TOKEN])
        .env("LLM_GATEWAY_MINT_KEY", mint_key.expose())
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::io::BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .unwrap()
        .expect("a listening line");
    let base = line.strip_prefix("listening on ").expect(&line).to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The live view watches from the start: every exchange's headers and
    // bodies are kept, and scanned below.
    let watch = http
        .get(format!("{base}/_admin/journal?watch=true"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);

    // A live gateway token, minted the real way.
    let minted: Value = http
        .post(format!("{base}/v1/tokens"))
        .bearer_auth(mint_key.expose())
        .json(&mint_request())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gateway_token = minted["token"].as_str().expect("a phe_").to_owned();
    let fed = [
        Fed {
            kind: "access token",
            value: access.expose().to_owned(),
        },
        Fed {
            kind: "refresh token",
            value: refresh.expose().to_owned(),
        },
        Fed {
            kind: "personal API key",
            value: personal_key.expose().to_owned(),
        },
        Fed {
            kind: "gateway mint key",
            value: mint_key.expose().to_owned(),
        },
        Fed {
            kind: "gateway token",
            value: gateway_token,
        },
        Fed {
            kind: "authorization code",
            value: random_part(&random),
        },
        Fed {
            kind: "session id",
            value: random_part(&random),
        },
        Fed {
            kind: "hmac signing secret",
            value: format!("whsec_fake_{}", random_part(&random)),
        },
    ];

    let mut seen = Vec::new();
    let mut details = String::new();
    let mut kept = 0;
    for credential in &fed {
        for (label, request) in probes(
            &http,
            &base,
            credential,
            personal_key.expose(),
            mint_key.expose(),
        ) {
            let response = request.send().await.unwrap_or_else(|error| {
                panic!("{label}: {}", redact_secret_shaped(&error.to_string()))
            });
            let status = response.status().as_u16();
            let mut head = format!("{status}\n");
            for (name, value) in response.headers() {
                head.push_str(&format!(
                    "{name}: {}\n",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
            let id = response
                .headers()
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let body = response.text().await.unwrap_or_default();
            assert!(
                status < 500 || status == 503,
                "{label} answered {status}: {}",
                redact_secret_shaped(&body)
            );
            // An id that carries a fed credential is already a leak above;
            // it is not sent again.
            if let Some(id) = id.filter(|id| !fed.iter().any(|fed| fed.shows_in(id))) {
                let detail = http
                    .get(format!("{base}/_admin/exchanges/{id}"))
                    .bearer_auth(ADMIN_TOKEN)
                    .send()
                    .await
                    .unwrap();
                if detail.status() == 200 {
                    kept += 1;
                    details.push_str(&format!("{label}\n{}\n", detail.text().await.unwrap()));
                }
            }
            seen.push(Seen { label, head, body });
        }
    }

    let journal = http
        .get(format!("{base}/_admin/journal"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    child.kill().await.unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    let forwarded: String = introspection
        .seen()
        .into_iter()
        .filter_map(|call| call.request_id)
        .collect::<Vec<_>>()
        .join("\n");

    let mut leaks = BTreeSet::new();
    for credential in &fed {
        for (place, text) in [
            ("the journal", &journal),
            ("the log", &log_text),
            ("a request id sent to introspection", &forwarded),
            ("the live view's details", &details),
        ] {
            if credential.shows_in(text) {
                leaks.insert(format!("{} in {place}", credential.kind));
            }
        }
        // A body is searched for credentials with a prefix only (a code
        // or a secret without one cannot be told from text the caller
        // sent); headers for every kind.
        let prefixed = CredentialKind::of(&credential.value).is_some();
        for answer in &seen {
            let body = if prefixed { answer.body.as_str() } else { "" };
            if credential.shows_in(&answer.head) || credential.shows_in(body) {
                leaks.insert(format!("{} echoed by {}", credential.kind, answer.label));
            }
        }
    }
    for (place, text) in [
        ("the journal", &journal),
        ("the log", &log_text),
        ("the live view's details", &details),
    ] {
        for found in find_full_secrets(text) {
            leaks.insert(format!("{} in {place}", protocol::credential::mask(&found)));
        }
    }
    eprintln!(
        "leak scan: {} requests, {} credentials, {} lines of log",
        seen.len(),
        fed.len(),
        log_text.lines().count()
    );
    assert!(seen.len() > 300, "the sweep sent {} requests", seen.len());
    assert!(
        kept * 10 > seen.len() * 9,
        "the live view kept {kept} of {} exchanges",
        seen.len()
    );
    assert!(
        log_text.contains("refused a model request"),
        "the log was written"
    );
    assert!(
        journal.contains("granted"),
        "the fields were read past admission: {}",
        redact_secret_shaped(&journal)
    );
    let report = redact_secret_shaped(&leaks.into_iter().collect::<Vec<_>>().join("\n"));
    assert!(report.is_empty(), "leaks:\n{report}");
}

/// Every request of the sweep for one credential `c`: the model routes
/// with `c` in each body field (let in with the live `phx_`), in each
/// header and as the credential in every scheme; the mint with `c` in each
/// field (with the live mint key) and as the key; paths, query strings
/// and the admin routes.
fn probes(
    http: &reqwest::Client,
    base: &str,
    credential: &Fed,
    live_key: &str,
    mint_key: &str,
) -> Vec<(String, reqwest::RequestBuilder)> {
    let c = credential.value.as_str();
    let kind = credential.kind;
    let encoded = format!("%{:02X}{}", c.as_bytes()[0], &c[1..]);
    let mut probes = Vec::new();
    let mut push = |label: String, request: reqwest::RequestBuilder| {
        probes.push((redact_secret_shaped(&label), request));
    };
    let routes = [
        "/wizard/v1/messages",
        "/v1/messages",
        "/v1/responses",
        "/wizard/v1/responses",
    ];
    let mut bodies: Vec<(&str, Value)> = Vec::new();
    for pointer in [
        "/model",
        "/system",
        "/messages/0/content/0/text",
        "/tools/0/name",
        "/metadata/user_id",
        "/input",
        "/max_tokens",
        "/stream",
    ] {
        let mut body = first_request("framework: next-js");
        body["metadata"] = json!({"user_id": "u"});
        body["input"] = json!("hello");
        body["stream"] = json!(false);
        *body.pointer_mut(pointer).unwrap() = json!(c);
        bodies.push((pointer, body));
    }
    for route in routes {
        let url = format!("{base}{route}");
        for (pointer, body) in &bodies {
            push(
                format!("POST {route} {pointer} ({kind})"),
                http.post(&url).header("x-api-key", live_key).json(body),
            );
        }
        let body = first_request("framework: next-js");
        for (header, value) in [
            ("x-request-id", c.to_owned()),
            ("user-agent", c.to_owned()),
            ("anthropic-version", c.to_owned()),
            ("cookie", format!("posthog_session={c}; other={c}")),
            ("referer", format!("http://127.0.0.1/?token={c}")),
            ("x-forwarded-for", c.to_owned()),
        ] {
            push(
                format!("POST {route} {header} ({kind})"),
                http.post(&url)
                    .header("x-api-key", live_key)
                    .header(header, value)
                    .json(&body),
            );
        }
        for (scheme, authorization) in [
            ("Bearer", format!("Bearer {c}")),
            ("Token", format!("Token {c}")),
            ("bare", c.to_owned()),
        ] {
            push(
                format!("POST {route} Authorization {scheme} ({kind})"),
                http.post(&url)
                    .header("authorization", authorization)
                    .json(&body),
            );
        }
        push(
            format!("POST {route} Authorization Basic ({kind})"),
            http.post(&url).basic_auth(c, Some(c)).json(&body),
        );
        push(
            format!("POST {route} x-api-key ({kind})"),
            http.post(&url)
                .header("x-api-key", c)
                .header("x-request-id", c)
                .json(&body),
        );
        push(
            format!("POST {route}?key ({kind})"),
            http.post(format!("{url}?key={c}"))
                .header("x-api-key", live_key)
                .json(&body),
        );
        push(
            format!("POST {route} not JSON ({kind})"),
            http.post(&url)
                .header("x-api-key", live_key)
                .header("content-type", "application/json")
                .body(format!("{{\"model\": \"{c}")),
        );
    }
    for field in ["cap_usd", "ttl_seconds", "product", "obo", "user"] {
        let mut body = mint_request();
        body[field] = json!(c);
        push(
            format!("POST /v1/tokens {field} ({kind})"),
            http.post(format!("{base}/v1/tokens"))
                .bearer_auth(mint_key)
                .json(&body),
        );
    }
    push(
        format!("POST /v1/tokens not JSON ({kind})"),
        http.post(format!("{base}/v1/tokens"))
            .bearer_auth(mint_key)
            .body(format!("{{\"cap_usd\": {c}")),
    );
    push(
        format!("POST /v1/tokens as the key ({kind})"),
        http.post(format!("{base}/v1/tokens"))
            .bearer_auth(c)
            .json(&mint_request()),
    );
    for path in [
        format!("/wizard/v1/messages/{c}"),
        format!("/v1/{c}"),
        format!("/{c}"),
        format!("/{encoded}"),
        format!("/readyz?token={c}"),
        format!("/_liveness/{c}"),
        format!("/_admin/{c}"),
    ] {
        push(
            format!("GET {path} ({kind})"),
            http.get(format!("{base}{path}")).header("x-request-id", c),
        );
        push(
            format!("POST {path} ({kind})"),
            http.post(format!("{base}{path}"))
                .header("x-api-key", c)
                .json(&json!({"model": c})),
        );
    }
    for admin in ["/_admin/journal", "/_admin/faults", "/_admin/held"] {
        push(
            format!("GET {admin} ({kind})"),
            http.get(format!("{base}{admin}")).bearer_auth(c),
        );
    }
    push(
        format!("POST /_admin/faults ({kind})"),
        http.post(format!("{base}/_admin/faults"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"rules": [{"route": c, "status": c}], "seed": c})),
    );
    probes
}
