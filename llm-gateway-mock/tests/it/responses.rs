//! The Responses API against recorded requests of the published wizard's
//! pi harness (`fixtures/harness/responses/`): each parses, the agent's
//! answer keeps the harness's rules (a tool it offers, paths under its
//! working directory, an edit only of a file the conversation read), and
//! the events it streams have the shape of the ones the harness accepted.

use gateway::agent::render_pi::{integration_of, Reply};
use gateway::agent::{self, REMARK_TEXT};
use gateway::responses_stream::{self, Envelope};
use gateway::routes::responses::parse_request;
use protocol::gateway::DEV_MINT_KEY;
use protocol::responses::{
    InputItem, OutputItem, ResponseObject, ResponsesEvent, ResponsesEventKind,
    POSTHOG_PROPERTIES_HEADER,
};
use serde_json::{json, Value};

use crate::support::*;

/// One recorded exchange: the request as sent, the answer it got.
struct Recorded {
    name: String,
    integration: Option<String>,
    body: Value,
    events: Vec<ResponsesEvent>,
}

fn recorded() -> Vec<Recorded> {
    recorded_exchanges("responses", 4)
        .into_iter()
        .map(|path| {
            let exchange: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let header = exchange["headers"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(POSTHOG_PROPERTIES_HEADER))
                .and_then(|(_, value)| value.as_str())
                .expect("the harness sends X-PostHog-Properties");
            Recorded {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                integration: integration_of(header),
                body: exchange["body"].clone(),
                events: parse_events(exchange["response"].as_str().unwrap()),
            }
        })
        .collect()
}

/// The `data:` lines of an event stream, each checked against its
/// `event:` line.
fn parse_events(text: &str) -> Vec<ResponsesEvent> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let name = block.lines().find_map(|line| line.strip_prefix("event: "));
            let data = block.lines().find_map(|line| line.strip_prefix("data: "));
            let event: ResponsesEvent = serde_json::from_str(data.unwrap()).unwrap();
            assert_eq!(name, Some(event.name()), "{block}");
            event
        })
        .collect()
}

fn completed(events: &[ResponsesEvent]) -> &ResponseObject {
    match &events.last().unwrap().kind {
        ResponsesEventKind::Completed { response } => response,
        other => panic!("a stream ends with response.completed, not {other:?}"),
    }
}

/// If this fails, the published wizard's requests are no longer read as
/// it sends them, or the agent answers the pi harness with a call it would
/// refuse or a stream it would not parse.
#[test]
fn recorded_requests_get_answers_the_harness_accepts() {
    let mut kinds_seen = Vec::new();
    for recorded in recorded() {
        let name = &recorded.name;
        let request = parse_request(recorded.body.to_string().as_bytes())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert!(request.stream, "{name}: the harness streams");
        let tools: Vec<_> = request
            .tools
            .iter()
            .filter_map(|t| t.name.clone())
            .collect();
        for tool in ["read", "edit", "write", "bash", "find", "set_env_values"] {
            assert!(tools.iter().any(|t| t == tool), "{name}: no {tool} tool");
        }
        let mut read = Vec::new();
        for item in request.input.items() {
            let kind = match item {
                InputItem::Message(message) => message.role,
                InputItem::FunctionCall(call) => {
                    let arguments: Value = serde_json::from_str(&call.arguments).unwrap();
                    if ["read", "write"].contains(&call.name.as_str()) {
                        read.push(arguments["path"].as_str().unwrap().to_owned());
                    }
                    "function_call".to_owned()
                }
                InputItem::FunctionCallOutput(_) => "function_call_output".to_owned(),
                InputItem::Reasoning(_) => "reasoning".to_owned(),
                InputItem::Other(value) => panic!("{name}: an item not understood: {value}"),
            };
            kinds_seen.push(kind);
        }

        let reply = agent::reply_responses(&request, recorded.integration.as_deref());
        let was = completed(&recorded.events);
        let envelope = Envelope {
            response_id: was.id.clone(),
            model: was.model.clone(),
            created_at: was.created_at,
            request_chars: 0,
        };
        let now = responses_stream::events(&envelope, &reply);
        let names: Vec<&str> = now.iter().map(ResponsesEvent::name).collect();
        assert_eq!(names.first(), Some(&"response.created"), "{name}");
        assert_eq!(names.last(), Some(&"response.completed"), "{name}");
        for (index, event) in now.iter().enumerate() {
            assert_eq!(event.sequence_number, index as u64, "{name}");
        }
        match &reply {
            Reply::Call { call, .. } => {
                assert!(
                    tools.iter().any(|tool| tool == call.name()),
                    "{name}: {call:?}"
                );
                let arguments = call.arguments();
                if let Some(path) = arguments["path"].as_str() {
                    assert!(
                        path.starts_with("/tmp/rec-2.77.0/project/"),
                        "{name}: {path}"
                    );
                    if call.name() == "edit" {
                        assert!(
                            read.iter().any(|seen| seen == path),
                            "{name}: {path} was never read"
                        );
                    }
                }
                assert!(matches!(
                    completed(&now).output.last(),
                    Some(OutputItem::FunctionCall(_))
                ));
            }
            Reply::Done { text } => assert!(!text.is_empty(), "{name}"),
        }
    }
    for kind in [
        "developer",
        "user",
        "assistant",
        "function_call",
        "function_call_output",
    ] {
        assert!(
            kinds_seen.iter().any(|seen| seen == kind),
            "no recorded request carries a {kind} item"
        );
    }
}

/// The recorded turns, one by one: what the recipe asks for after each.
#[test]
fn turn_selection_follows_the_recorded_tool_results() {
    let played: Vec<(String, String)> = recorded()
        .iter()
        .map(|recorded| {
            let request = parse_request(recorded.body.to_string().as_bytes()).unwrap();
            let said = match agent::reply_responses(&request, None) {
                Reply::Call { call_id, call, .. } => format!("{call_id} {}", call.name()),
                Reply::Done { text } => text.lines().next().unwrap_or_default().to_owned(),
            };
            (recorded.name.clone(), said)
        })
        .collect();
    let expected = [
        // The package manager first, as the prompt asks.
        ("01-first-turn.json", "call_ph_0 detect_package_manager"),
        // package.json was read: the SDK goes into it.
        ("02-after-a-read.json", "call_ph_2 edit"),
        // Everything the old script did is there; the recipe still lists
        // the project to check its layout before it calls the run done.
        ("03-plan-done.json", "call_ph_9 find"),
        ("04-remark.json", REMARK_TEXT),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(name, said)| (name.to_string(), said.to_string()))
        .collect();
    assert_eq!(played, expected);
}

async fn mint(gateway: &Gateway) -> String {
    let body = json!({
        "cap_usd": "20.000000",
        "ttl_seconds": 3600,
        "product": "wizard:posthog-integration",
        "obo": "0190aaaa-0000-7000-8000-00000000000a",
        "user": "distinct-fake-1",
    });
    let answer = gateway
        .post_bearer_for_json("/v1/tokens", DEV_MINT_KEY, &body)
        .await;
    answer["token"].as_str().unwrap().to_owned()
}

/// If this fails, the published wizard's first model call through our
/// gateway no longer gets a tool call, or the journal loses it.
#[tokio::test]
async fn the_first_recorded_request_gets_a_call_over_http_and_is_journaled() {
    let gateway = Gateway::start().await;
    let token = mint(&gateway).await;
    let first = recorded().remove(0);
    let mut body = first.body.clone();
    for path in ["/v1/responses", "/wizard/v1/responses", "/responses"] {
        for stream in [true, false] {
            body["stream"] = json!(stream);
            let response = gateway
                .http
                .post(format!("{}{path}", gateway.base))
                .bearer_auth(&token)
                .header(POSTHOG_PROPERTIES_HEADER, r#"{"integration":"nextjs"}"#)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200, "{path}");
            let text = response.text().await.unwrap();
            let answer = match stream {
                true => completed(&parse_events(&text)).clone(),
                false => serde_json::from_str::<ResponseObject>(&text).unwrap(),
            };
            match answer.output.last() {
                Some(OutputItem::FunctionCall(call)) => {
                    assert_eq!(call.name, "detect_package_manager", "{path}")
                }
                other => panic!("{path}: expected a function call, got {other:?}"),
            }
        }
    }
    let refused = gateway
        .http
        .post(format!("{}/v1/responses", gateway.base))
        .bearer_auth("phe_never_minted_by_this_gateway_fake_0000")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let malformed = gateway
        .http
        .post(format!("{}/v1/responses", gateway.base))
        .bearer_auth(&token)
        .json(&json!({"model": "m", "input": "hi", "stream": "yes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let journal: Value = serde_json::from_str(&gateway.journal_text().await).unwrap();
    let entries: Vec<(String, u16, String)> = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["path"].as_str().unwrap().ends_with("responses"))
        .map(|entry| {
            (
                entry["path"].as_str().unwrap().to_owned(),
                entry["status"].as_u64().unwrap() as u16,
                entry["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(entries.len(), 8, "{entries:?}");
    assert!(entries[..6]
        .iter()
        .all(|(_, status, verdict)| *status == 200 && verdict == "granted"));
    assert_eq!(entries[6].2, "invalid_gateway_token");
    assert_eq!(
        entries[7],
        ("/v1/responses".to_owned(), 400, "bad_request".to_owned())
    );
}

/// If this fails, the Responses routes admit callers unlike the Messages
/// routes: another application let in under `/wizard`, refused at the
/// root, or an unknown product served.
#[tokio::test]
async fn responses_routes_admit_by_product_like_the_messages_routes() {
    let gateway = Gateway::start().await;
    let body = json!({"model": "m", "input": "- Framework: Flask", "stream": false});
    let cases: &[AdmissionCase] = &[
        (
            "/v1/responses",
            OTHER_APP_TOKEN,
            200,
            "\"object\":\"response\"",
        ),
        ("/responses", PAT, 200, "\"object\":\"response\""),
        (
            "/wizard/v1/responses",
            WIZARD_TOKEN,
            200,
            "\"object\":\"response\"",
        ),
        ("/wizard/responses", PAT, 200, "\"object\":\"response\""),
        (
            "/wizard/v1/responses",
            OTHER_APP_TOKEN,
            403,
            "OAuth application not authorized for product 'wizard'",
        ),
        (
            "/twig/v1/responses",
            PAT,
            403,
            "Product 'posthog_code' requires OAuth authentication",
        ),
        ("/nope/v1/responses", PAT, 400, "Invalid product 'nope'"),
        (
            "/nope/v1/responses",
            "phx_unknown_key_0000",
            401,
            "Authentication required",
        ),
    ];
    gateway.check_admissions(&body, cases).await;
}
