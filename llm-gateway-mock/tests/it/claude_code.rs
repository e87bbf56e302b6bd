//! Claude Code's wire, against the exchanges recorded from the published
//! wizard 2.73.0 (`fixtures/harness/claude-code/`, credentials masked):
//! every recorded request parses, is classified as the call it was, and
//! gets an answer Claude Code accepts (the title as recorded; in the
//! conversation, tools it offers, paths under its working directory, an
//! `Edit` only of a file it has read) in the event order Anthropic streams; over HTTP, the probe, the root's banner,
//! `count_tokens` and the product prefixes answer as the real gateway does.

use gateway::agent::{self, Scripts, REMARK_TEXT};
use gateway::call_kind::{self, CallKind};
use gateway::routes::messages::parse_request;
use gateway::stream;
use protocol::gateway::ContentBlock;
use serde_json::{json, Value};

use crate::support::{
    recorded_exchanges, AdmissionCase, Gateway, OTHER_APP_TOKEN, PAT, WIZARD_TOKEN,
};

fn fixtures() -> Vec<(String, Value)> {
    recorded_exchanges("claude-code", 9)
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// The server-sent events of a recorded answer: (event name, data).
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let name = frame
                .lines()
                .find_map(|line| line.strip_prefix("event: "))
                .unwrap()
                .to_owned();
            let data = frame
                .lines()
                .find_map(|line| line.strip_prefix("data: "))
                .unwrap();
            (name, serde_json::from_str(data).unwrap())
        })
        .collect()
}

/// The content blocks and stop reason a stream carries, accumulated as an
/// Anthropic client does.
fn accumulate(events: &[(String, Value)]) -> (Vec<ContentBlock>, String) {
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    let mut stop_reason = String::new();
    for (name, data) in events {
        match name.as_str() {
            "content_block_start" => {
                blocks.push(data["content_block"].clone());
                partial.push(String::new());
            }
            "content_block_delta" => {
                let index = data["index"].as_u64().unwrap() as usize;
                match data["delta"]["type"].as_str().unwrap() {
                    "text_delta" => {
                        let text = blocks[index]["text"].as_str().unwrap().to_owned()
                            + data["delta"]["text"].as_str().unwrap();
                        blocks[index]["text"] = json!(text);
                    }
                    "input_json_delta" => {
                        partial[index].push_str(data["delta"]["partial_json"].as_str().unwrap())
                    }
                    other => panic!("unexpected delta {other}"),
                }
            }
            "content_block_stop" => {
                let index = data["index"].as_u64().unwrap() as usize;
                if blocks[index]["type"] == "tool_use" {
                    blocks[index]["input"] = serde_json::from_str(&partial[index]).unwrap();
                }
            }
            "message_delta" => {
                stop_reason = data["delta"]["stop_reason"].as_str().unwrap().to_owned();
            }
            _ => {}
        }
    }
    let blocks = blocks
        .into_iter()
        .map(|block| serde_json::from_value(block).unwrap())
        .collect();
    (blocks, stop_reason)
}

/// Event names in the order Claude Code's stream parser expects them:
/// `message_start`, each block opened, (one `ping` after the first
/// opening), its deltas and its close, then `message_delta`, `message_stop`.
fn check_event_order(names: &[&str], blocks: usize, context: &str) {
    let mut expected = vec!["message_start"];
    let mut position = 1;
    for block in 0..blocks {
        expected.push("content_block_start");
        position += 1;
        if block == 0 {
            expected.push("ping");
            position += 1;
        }
        let deltas = names[position..]
            .iter()
            .take_while(|name| **name == "content_block_delta")
            .count();
        assert!(
            deltas >= 1,
            "{context}: block {block} has no delta: {names:?}"
        );
        expected.extend(std::iter::repeat_n("content_block_delta", deltas));
        expected.push("content_block_stop");
        position += deltas + 1;
    }
    expected.extend(["message_delta", "message_stop"]);
    assert_eq!(names, expected, "{context}");
}

/// The paths the conversation's `Read` and `Write` calls named.
fn seen_paths(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["role"] == "assistant")
        .filter_map(|message| message["content"].as_array())
        .flatten()
        .filter(|block| {
            block["type"] == "tool_use"
                && ["Read", "Write"].contains(&block["name"].as_str().unwrap())
        })
        .map(|block| block["input"]["file_path"].as_str().unwrap().to_owned())
        .collect()
}

/// If this fails, the published wizard's Claude Code would get a call it
/// refuses (a tool it does not offer, a path outside its directory, an
/// edit of a file it never read), a side query taken for the
/// conversation, or a stream it cannot parse.
#[test]
fn every_recorded_claude_code_call_is_classified_and_answered_within_its_rules() {
    let scripts = Scripts::embedded().unwrap();
    let mut kinds = Vec::new();
    for (name, exchange) in fixtures() {
        let Some(body) = exchange.get("body") else {
            continue;
        };
        let request = parse_request(body.to_string().as_bytes())
            .unwrap_or_else(|error| panic!("{name}: Claude Code's request is refused: {error}"));
        let kind = call_kind::classify(&request);
        kinds.push(kind.name());
        let expected_kind = name.split('-').nth(1).unwrap();
        assert_eq!(kind.name(), expected_kind, "{name}");
        let integration = exchange["headers"]["X-POSTHOG-PROPERTY-integration"].as_str();
        let reply = agent::reply_messages(&scripts, &request, integration);
        let recorded = sse_events(exchange["response"].as_str().unwrap());
        let (recorded_blocks, recorded_stop) = accumulate(&recorded);
        match kind {
            CallKind::Title => {
                assert_eq!(reply.content, recorded_blocks, "{name}");
                assert_eq!(reply.stop_reason, recorded_stop, "{name}");
            }
            CallKind::Remark => assert_eq!(
                reply.content,
                vec![ContentBlock::Text {
                    text: REMARK_TEXT.to_owned()
                }],
                "{name}"
            ),
            CallKind::Main => {
                let offered: Vec<&str> = request
                    .tools
                    .iter()
                    .map(|tool| tool.name.as_str())
                    .collect();
                let mut seen = seen_paths(body);
                for block in &reply.content {
                    let ContentBlock::ToolUse {
                        name: tool, input, ..
                    } = block
                    else {
                        continue;
                    };
                    assert!(
                        offered.contains(&tool.as_str()),
                        "{name}: {tool} is not offered"
                    );
                    if let Some(path) = input["file_path"].as_str() {
                        assert!(path.starts_with("/tmp/rec/project/"), "{name}: {path}");
                        match tool.as_str() {
                            "Edit" => {
                                assert!(seen.iter().any(|p| p == path), "{name}: {path} not read")
                            }
                            _ => seen.push(path.to_owned()),
                        }
                    }
                }
            }
        }
        let recorded_names: Vec<&str> = recorded.iter().map(|(name, _)| name.as_str()).collect();
        check_event_order(&recorded_names, recorded_blocks.len(), &name);

        let blocks = reply.content.len();
        let ours = stream::events(&agent::response(reply, &request));
        let ours: Vec<Value> = ours
            .iter()
            .map(|event| serde_json::to_value(event).unwrap())
            .collect();
        let our_names: Vec<&str> = ours
            .iter()
            .map(|event| event["type"].as_str().unwrap())
            .collect();
        check_event_order(&our_names, blocks, &name);
    }
    assert_eq!(
        kinds,
        ["title", "main", "main", "main", "main", "main", "main", "remark"]
    );
}

/// If this fails, Claude Code edits a file it never read (and refuses the
/// edit), or writes outside the directory it reported.
#[test]
fn claude_code_reads_before_it_edits_under_its_working_directory() {
    let mut read = Vec::new();
    for (name, exchange) in fixtures() {
        let Some(response) = exchange["response"].as_str() else {
            continue;
        };
        let (blocks, _) = accumulate(&sse_events(response));
        for block in blocks {
            let ContentBlock::ToolUse {
                name: tool, input, ..
            } = block
            else {
                continue;
            };
            match tool.as_str() {
                "Read" | "Edit" | "Write" => {
                    let path = input["file_path"].as_str().unwrap().to_owned();
                    assert!(path.starts_with("/tmp/rec/project/"), "{name}: {path}");
                    match tool.as_str() {
                        "Edit" => assert!(read.contains(&path), "{name}: {path} not read"),
                        _ => read.push(path),
                    }
                }
                protocol::gateway::TOOL_SET_ENV_VALUES => {
                    // The prompt's key (masked in the fixture) and host.
                    assert_eq!(input["filePath"], ".env.local");
                    let values = &input["values"];
                    assert!(values["NEXT_PUBLIC_POSTHOG_KEY"]
                        .as_str()
                        .unwrap()
                        .starts_with("phc_fixture_public_token"));
                    assert_eq!(values["NEXT_PUBLIC_POSTHOG_HOST"], "http://localhost:8010");
                }
                other => panic!("{name}: unexpected tool {other}"),
            }
        }
    }
}

fn recorded(name: &str) -> Value {
    fixtures()
        .into_iter()
        .find(|(file, _)| file.contains(name))
        .map(|(_, exchange)| exchange)
        .unwrap()
}

/// If this fails, the published wizard's Claude Code gets an answer over
/// HTTP that differs from the one the recorded run got.
#[tokio::test]
async fn claude_code_is_answered_over_http_on_every_path_it_uses() {
    let gateway = Gateway::start().await;
    let head = gateway
        .http
        .head(format!("{}/wizard", gateway.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404, "the real gateway has no /wizard route");
    let missing = gateway.get("/wizard").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"detail": "Not Found"}),
        "FastAPI's own 404 body"
    );
    let head = gateway.http.head(&gateway.base).send().await.unwrap();
    assert_eq!(head.status(), 405, "FastAPI registers / for GET only");
    assert_eq!(head.headers()["allow"], "GET");
    let banner: Value = gateway
        .http
        .get(&gateway.base)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        banner,
        json!({"service": "llm-gateway", "status": "running"})
    );

    let title = recorded("title");
    let main = recorded("07-main");
    for (path, exchange, kind) in [
        ("/wizard/v1/messages?beta=true", &title, "title"),
        ("/v1/messages?beta=true", &main, "main"),
    ] {
        let mut request = gateway
            .http
            .post(format!("{}{path}", gateway.base))
            .bearer_auth(PAT)
            .json(&exchange["body"]);
        for (name, value) in exchange["headers"].as_object().unwrap() {
            if !["Authorization", "Content-Type"].contains(&name.as_str()) {
                request = request.header(name, value.as_str().unwrap());
            }
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let (blocks, _) = accumulate(&sse_events(&response.text().await.unwrap()));
        // The same answer as the agent gives in process.
        let request = parse_request(exchange["body"].to_string().as_bytes()).unwrap();
        let integration = exchange["headers"]["X-POSTHOG-PROPERTY-integration"].as_str();
        let expected = agent::reply_messages(&Scripts::embedded().unwrap(), &request, integration);
        assert_eq!(blocks, expected.content, "{path} ({kind})");
    }
    let journal = gateway.journal_text().await;
    assert!(journal.contains("\"reason\":\"title\""), "{journal}");
    assert!(journal.contains("\"reason\":\"main\""), "{journal}");
}

/// If this fails, a product prefix is answered unlike the real gateway:
/// another application let in under `/wizard`, refused at the root, or an
/// unknown product served.
#[tokio::test]
async fn products_and_count_tokens_follow_the_real_gateway() {
    let gateway = Gateway::start().await;
    let body = json!({"model": "claude-sonnet-4-6", "max_tokens": 16, "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]});
    let cases: &[AdmissionCase] = &[
        ("/v1/messages/count_tokens", PAT, 200, "input_tokens"),
        (
            "/wizard/v1/messages/count_tokens",
            WIZARD_TOKEN,
            200,
            "input_tokens",
        ),
        ("/growth/v1/messages/count_tokens", PAT, 200, "input_tokens"),
        (
            "/v1/messages/count_tokens",
            OTHER_APP_TOKEN,
            200,
            "input_tokens",
        ),
        (
            "/wizard/v1/messages/count_tokens",
            OTHER_APP_TOKEN,
            403,
            "OAuth application not authorized for product 'wizard'",
        ),
        (
            "/twig/v1/messages/count_tokens",
            PAT,
            403,
            "Product 'posthog_code' requires OAuth authentication",
        ),
        (
            "/nope/v1/messages/count_tokens",
            PAT,
            400,
            "Invalid product 'nope'. Allowed products: background_agents,",
        ),
        ("/nope/v1/messages", PAT, 400, "Invalid product 'nope'"),
        (
            "/nope/v1/messages",
            "phx_unknown_key_0000",
            401,
            "Authentication required",
        ),
        // The root is the llm_gateway product: any application may use it.
        ("/v1/messages", OTHER_APP_TOKEN, 200, "\"type\":\"message\""),
    ];
    gateway.check_admissions(&body, cases).await;
}
