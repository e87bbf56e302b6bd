//! `POST /api/wizard/gateway_token/`: the checks in the real endpoint's
//! order, each refusal's status and body, and the mint the server asks of
//! the gateway (here a recording stand-in on loopback that answers as the
//! gateway's `/v1/tokens` does).

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Json;
use protocol::paths;
use serde_json::{json, Value};

use crate::support::{Call, Options, Server, Tokens};

const SIGNUP_SCOPES: [&str; 3] = ["user:read", "project:read", "llm_gateway:read"];

/// One mint request as the stand-in saw it: its `Authorization` and body.
type Asked = (Option<String>, Value);

/// A stand-in for the gateway's mint route: records what it was asked and
/// answers `status` (201 with a `phe_`, or a refusal).
#[derive(Clone)]
struct Mint {
    url: String,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl Mint {
    async fn start(status: StatusCode) -> Mint {
        let asked: Arc<Mutex<Vec<Asked>>> = Arc::default();
        let recorded = asked.clone();
        let app = axum::Router::new().route(
            protocol::gateway::MINT_PATH,
            post(move |headers: HeaderMap, Json(body): Json<Value>| {
                let recorded = recorded.clone();
                async move {
                    let authorization = headers
                        .get("authorization")
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned);
                    recorded.lock().unwrap().push((authorization, body.clone()));
                    let answer = json!({
                        "token": "phe_minted_by_the_stand_in_fake_000000",
                        "expires_at": "2026-04-01T00:33:20Z",
                        "cap_usd": body["cap_usd"],
                    });
                    (status, Json(answer))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Mint { url, asked }
    }

    fn gateway(&self) -> server::WizardGateway {
        let mut gateway = server::WizardGateway::new(&format!("{}/v1/", self.url)).unwrap();
        gateway.mints_per_hour = 3;
        gateway
    }

    fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }
}

async fn ask(server: &Server, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut call = Call::post(paths::WIZARD_GATEWAY_TOKEN).json(&body);
    if let Some(bearer) = bearer {
        call = call.bearer(bearer);
    }
    let answer = server.send(call).await;
    (answer.status, answer.json())
}

fn body(program: &str) -> Value {
    json!({"program": program, "reads_refusal_reason": true})
}

/// The PostHog error envelope, `{"type","code","detail","attr"}`.
fn refusal(kind: &str, code: &str, detail: &str) -> Value {
    json!({"type": kind, "code": code, "detail": detail, "attr": null})
}

async fn wizard_tokens(server: &Server, scopes: &[&str]) -> Tokens {
    server.tokens(Some(scopes)).await
}

/// If this fails, the published wizard 2.74 and later cannot get a gateway
/// token from a fresh signup, and stop before the agent.
#[tokio::test]
async fn a_wizard_token_with_the_gateway_scope_gets_a_capped_expiring_phe() {
    let mint = Mint::start(StatusCode::CREATED).await;
    let server = Server::start(Options::new("current").wizard_gateway(mint.gateway())).await;
    let tokens = wizard_tokens(&server, &SIGNUP_SCOPES).await;
    let me = server
        .send(Call::get(paths::USERS_ME).bearer(&tokens.access))
        .await
        .json();

    let (status, answer) = ask(&server, Some(&tokens.access), body("posthog-integration")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(
        answer,
        json!({
            "token": "phe_minted_by_the_stand_in_fake_000000",
            "expires_at": "2026-04-01T00:33:20Z",
            "cap_usd": "20.000000",
            "gateway_url": mint.url,
            "team_id": me["team"]["id"],
        })
    );
    let asked = mint.asked();
    assert_eq!(asked.len(), 1);
    let (authorization, request) = &asked[0];
    assert_eq!(
        authorization.as_deref(),
        Some(format!("Bearer {}", protocol::gateway::DEV_MINT_KEY).as_str()),
        "the server mints with its mint key, never with the user's token"
    );
    assert_eq!(
        request,
        &json!({
            "cap_usd": "20.000000",
            "ttl_seconds": 3600,
            "product": "wizard:posthog-integration",
            "obo": me["organization"]["id"],
            "user": me["distinct_id"],
        })
    );
}

/// If this fails, a refusal answers with the wrong status, so a client
/// falls back to the derived gateway when it should stop (or the reverse).
#[tokio::test]
async fn refusals_in_the_real_order() {
    struct Case {
        label: &'static str,
        bearer: Bearer,
        body: Value,
        status: StatusCode,
        answer: Value,
    }
    enum Bearer {
        None,
        Text(&'static str),
        Signup(&'static [&'static str]),
    }
    let invalid = refusal(
        "authentication_error",
        "authentication_failed",
        "Invalid access token.",
    );
    let cases = [
        Case {
            label: "no bearer",
            bearer: Bearer::None,
            body: body("posthog-integration"),
            status: StatusCode::UNAUTHORIZED,
            answer: invalid.clone(),
        },
        Case {
            label: "a personal API key is not an access token",
            bearer: Bearer::Text("phx_not_an_access_token_fake_0000000"),
            body: body("posthog-integration"),
            status: StatusCode::UNAUTHORIZED,
            answer: invalid.clone(),
        },
        Case {
            label: "an unknown access token",
            bearer: Bearer::Text("pha_unknown_access_token_fake_000000"),
            body: body("posthog-integration"),
            status: StatusCode::UNAUTHORIZED,
            answer: invalid,
        },
        Case {
            label: "no llm_gateway:read in the token's scope",
            bearer: Bearer::Signup(&["user:read", "project:read"]),
            body: body("posthog-integration"),
            status: StatusCode::UNAUTHORIZED,
            answer: refusal(
                "authentication_error",
                "authentication_failed",
                "Access token lacks the gateway scope.",
            ),
        },
        Case {
            label: "an unknown program, to a client that reads reasons",
            bearer: Bearer::Signup(&SIGNUP_SCOPES),
            body: body("no-such-program"),
            status: StatusCode::FORBIDDEN,
            answer: refusal(
                "authentication_error",
                "program_unknown",
                "Unrecognized wizard program.",
            ),
        },
        Case {
            label: "an unknown program, to an older client",
            bearer: Bearer::Signup(&SIGNUP_SCOPES),
            body: json!({"program": "no-such-program"}),
            status: StatusCode::NOT_FOUND,
            answer: refusal(
                "invalid_request",
                "not_found",
                "Unrecognized wizard program.",
            ),
        },
        Case {
            label: "no program at all",
            bearer: Bearer::Signup(&SIGNUP_SCOPES),
            body: json!({}),
            status: StatusCode::NOT_FOUND,
            answer: refusal(
                "invalid_request",
                "not_found",
                "Unrecognized wizard program.",
            ),
        },
        Case {
            label: "a program that is not a string",
            bearer: Bearer::Signup(&SIGNUP_SCOPES),
            body: json!({"program": ["posthog-integration"], "reads_refusal_reason": true}),
            status: StatusCode::FORBIDDEN,
            answer: refusal(
                "authentication_error",
                "program_unknown",
                "Unrecognized wizard program.",
            ),
        },
    ];
    let mint = Mint::start(StatusCode::CREATED).await;
    let server = Server::start(Options::new("current").wizard_gateway(mint.gateway())).await;
    for case in cases {
        let bearer = match case.bearer {
            Bearer::None => None,
            Bearer::Text(text) => Some(text.to_owned()),
            Bearer::Signup(scopes) => Some(wizard_tokens(&server, scopes).await.access),
        };
        let (status, answer) = ask(&server, bearer.as_deref(), case.body).await;
        assert_eq!(
            (status, &answer),
            (case.status, &case.answer),
            "{}",
            case.label
        );
    }
    assert!(mint.asked().is_empty(), "no refusal reaches the gateway");
}

/// If this fails, a server of an era without gateway tokens, or one not
/// given a gateway, sends clients to a gateway that does not exist.
#[tokio::test]
async fn without_a_gateway_or_in_the_legacy_era_the_endpoint_is_not_available() {
    let mint = Mint::start(StatusCode::CREATED).await;
    let unconfigured = Server::start(Options::new("current")).await;
    let legacy = Server::start(Options::new("legacy").wizard_gateway(mint.gateway())).await;
    for (label, server) in [("no gateway", &unconfigured), ("legacy", &legacy)] {
        let tokens = wizard_tokens(server, &SIGNUP_SCOPES).await;
        let older = json!({"program": "posthog-integration"});
        let (status, answer) = ask(server, Some(&tokens.access), older).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{label}: {answer}");
        assert_eq!(
            answer,
            refusal(
                "invalid_request",
                "not_found",
                "Wizard gateway tokens are not available."
            ),
            "{label}"
        );
        let (status, answer) = ask(server, None, body("posthog-integration")).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{label}: checked before the token"
        );
        assert_eq!(answer["code"], "unconfigured", "{label}");
    }
    assert!(mint.asked().is_empty());
}

/// If this fails, a token of another application, a removed project or a
/// rollout switched off still mints.
#[tokio::test]
async fn the_application_the_team_and_the_rollout_are_checked() {
    let mint = Mint::start(StatusCode::CREATED).await;

    let mut other_applications = mint.gateway();
    other_applications.client_ids = vec!["some-other-application".to_owned()];
    let server = Server::start(Options::new("current").wizard_gateway(other_applications)).await;
    let tokens = wizard_tokens(&server, &SIGNUP_SCOPES).await;
    let (status, answer) = ask(&server, Some(&tokens.access), body("posthog-integration")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer,
        refusal(
            "authentication_error",
            "authentication_failed",
            "Access token was not issued to the wizard."
        )
    );

    let mut not_rolled_out = mint.gateway();
    not_rolled_out.rolled_out = false;
    let server = Server::start(Options::new("current").wizard_gateway(not_rolled_out)).await;
    let tokens = wizard_tokens(&server, &SIGNUP_SCOPES).await;
    let (status, answer) = ask(&server, Some(&tokens.access), body("posthog-integration")).await;
    assert_eq!(
        (status, &answer["code"]),
        (StatusCode::FORBIDDEN, &json!("not_rolled_out"))
    );
    let older = json!({"program": "posthog-integration"});
    let (status, answer) = ask(&server, Some(&tokens.access), older).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        answer["detail"],
        "Wizard gateway tokens are not rolled out for this organization."
    );

    let server = Server::start(Options::new("current").wizard_gateway(mint.gateway())).await;
    let tokens = wizard_tokens(&server, &SIGNUP_SCOPES).await;
    let resource = server.provision(&tokens.access).await.json();
    let team_id = resource["id"]
        .as_str()
        .expect("the resource's id")
        .to_owned();
    let removed = server
        .send(
            Call::post(format!("{}/{team_id}/remove", paths::RESOURCES))
                .version()
                .bearer(&tokens.access)
                .json(&json!({})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    let (status, answer) = ask(&server, Some(&tokens.access), body("posthog-integration")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(
        answer,
        refusal(
            "authentication_error",
            "permission_denied",
            "This project does not exist."
        )
    );
    assert!(mint.asked().is_empty());
}

/// If this fails, a run can mint without bound, or a gateway outage is
/// blamed on the client.
#[tokio::test]
async fn mints_are_limited_per_user_and_a_failed_mint_is_a_503() {
    let mint = Mint::start(StatusCode::CREATED).await;
    let server = Server::start(Options::new("current").wizard_gateway(mint.gateway())).await;
    let tokens = wizard_tokens(&server, &SIGNUP_SCOPES).await;
    for _ in 0..3 {
        let (status, answer) =
            ask(&server, Some(&tokens.access), body("posthog-integration")).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let answer = server
        .send(
            Call::post(paths::WIZARD_GATEWAY_TOKEN)
                .bearer(&tokens.access)
                .json(&body("posthog-integration")),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.text()
    );
    assert_eq!(answer.json()["code"], "throttled");
    assert!(answer.header("retry-after").is_some());
    let other_user = wizard_tokens(&server, &SIGNUP_SCOPES).await;
    let (status, _) = ask(
        &server,
        Some(&other_user.access),
        body("posthog-integration"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "the limit is per user");

    let refusing = Mint::start(StatusCode::BAD_GATEWAY).await;
    let server = Server::start(Options::new("current").wizard_gateway(refusing.gateway())).await;
    let tokens = wizard_tokens(&server, &SIGNUP_SCOPES).await;
    let (status, answer) = ask(&server, Some(&tokens.access), body("posthog-integration")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer, json!({"error": "Gateway token mint failed."}));

    let mut unreachable = mint.gateway();
    unreachable.url = "http://127.0.0.1:9".to_owned();
    let server = Server::start(Options::new("current").wizard_gateway(unreachable)).await;
    let tokens = wizard_tokens(&server, &SIGNUP_SCOPES).await;
    let (status, answer) = ask(&server, Some(&tokens.access), body("posthog-integration")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer, json!({"error": "Gateway token mint failed."}));
}

/// If this fails, a body that is not JSON is answered as if it named no
/// program, hiding the client's bug.
#[tokio::test]
async fn a_body_that_is_not_json_is_a_parse_error() {
    let mint = Mint::start(StatusCode::CREATED).await;
    let server = Server::start(Options::new("current").wizard_gateway(mint.gateway())).await;
    let tokens = wizard_tokens(&server, &SIGNUP_SCOPES).await;
    let answer = server
        .send(
            Call::post(paths::WIZARD_GATEWAY_TOKEN)
                .bearer(&tokens.access)
                .raw(Some("application/json"), "{not json"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert_eq!(answer.json()["code"], "parse_error");
}

/// Today's server with the wizard applications' personal-key gate on
/// (fixtures/seeds/wizard-personal-key.toml), minting through `gateway`.
async fn issuing_wizard_keys(gateway: server::WizardGateway) -> Server {
    let server = Server::start(Options::new("current").wizard_gateway(gateway)).await;
    server::seed::Seed::parse(
        include_str!("../../../fixtures/seeds/wizard-personal-key.toml"),
        "wizard-personal-key.toml",
    )
    .expect("seed parses")
    .apply(&server.state.db, &server.state.policy)
    .await
    .expect("seed applies");
    server
}

/// If this fails, either the faithful endpoint mints for a personal key
/// (the real one takes access tokens only), or the switch for the
/// published wizard 2.77.0, which sends its personal key, stopped working.
#[tokio::test]
async fn a_personal_key_mints_only_when_the_server_is_told_to_accept_one() {
    let mint = Mint::start(StatusCode::CREATED).await;
    let faithful = issuing_wizard_keys(mint.gateway()).await;
    let mut accepting = mint.gateway();
    accepting.accepts_personal_keys = true;
    let accepting = issuing_wizard_keys(accepting).await;

    for (server, expected) in [
        (&faithful, StatusCode::UNAUTHORIZED),
        (&accepting, StatusCode::CREATED),
    ] {
        let tokens = wizard_tokens(server, &SIGNUP_SCOPES).await;
        let resource = server.provision(&tokens.access).await.json();
        let key = resource["complete"]["access_configuration"]["personal_api_key"]
            .as_str()
            .unwrap_or_else(|| panic!("the gate is on, so a personal key: {resource}"))
            .to_owned();
        let (status, answer) = ask(server, Some(&key), body("posthog-integration")).await;
        assert_eq!(status, expected, "{answer}");
        match expected {
            StatusCode::CREATED => {
                assert_eq!(answer["token"], "phe_minted_by_the_stand_in_fake_000000");
                assert_eq!(
                    answer["team_id"],
                    resource["id"].as_str().unwrap().parse::<i64>().unwrap()
                );
            }
            _ => assert_eq!(
                answer,
                refusal(
                    "authentication_error",
                    "authentication_failed",
                    "Invalid access token."
                )
            ),
        }
    }
    assert_eq!(mint.asked().len(), 1, "only the accepting server minted");

    // A key nobody holds is still refused.
    let (status, _) = ask(
        &accepting,
        Some("phx_not_a_key_of_anyone_at_all_000000"),
        body("integration"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
