//! The scripted agent behind a granted credential: the conversation the
//! wizard would have, streaming, and what malformed bodies get.

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn next_js_conversation_reaches_end_turn() {
    let gateway = Gateway::start().await;
    let mut request = first_request("framework: next-js");
    let mut answers = Vec::new();
    loop {
        let response = gateway.post_messages(WIZARD_TOKEN, &request).await;
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["model"], "claude-sonnet-4-5", "the model is echoed");
        assert_eq!(answer["type"], "message");
        assert_eq!(answer["role"], "assistant");
        answers.push(answer.clone());
        if answer["stop_reason"] == "end_turn" {
            break;
        }
        assert_eq!(answer["stop_reason"], "tool_use");
        assert!(answers.len() < 10, "the script never ends");
        // A refused tool call does not derail the script: the wizard decides.
        continue_conversation(&mut request, &answer, answers.len() == 2);
    }
    assert!(
        answers.len() >= 3,
        "at least two tool turns and a final text"
    );
    insta::assert_json_snapshot!("next_js_turn_1", answers[0]);
    insta::assert_json_snapshot!("next_js_final", answers.last().unwrap());
    let tool_names: Vec<_> = answers
        .iter()
        .flat_map(|answer| answer["content"].as_array().unwrap().clone())
        .filter(|block| block["type"] == "tool_use")
        .map(|block| {
            format!(
                "{} {}",
                block["name"].as_str().unwrap(),
                block["input"]["file_path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        tool_names,
        [
            "Edit package.json",
            "Write instrumentation-client.ts",
            "Edit app/page.tsx",
            "Edit app/page.tsx"
        ]
    );
}

#[tokio::test]
async fn the_same_conversation_gets_the_same_answer() {
    let gateway = Gateway::start().await;
    let request = first_request("framework: next-js");
    let first: Value = gateway
        .post_messages(PAT, &request)
        .await
        .json()
        .await
        .unwrap();
    let second: Value = gateway
        .post_messages(WIZARD_TOKEN, &request)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first, second);
}

#[tokio::test]
async fn unknown_framework_gets_a_text_answer_not_an_error() {
    let gateway = Gateway::start().await;
    let response = gateway
        .post_messages(PAT, &first_request("framework: cobol-on-cogs"))
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    insta::assert_json_snapshot!("unknown_framework", answer);
    let response = gateway
        .post_messages(PAT, &first_request("(no framework line here)"))
        .await;
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["stop_reason"], "end_turn");
    assert!(answer["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("next-js"));
}

/// Parses a `text/event-stream` body into its `data` objects.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|chunk| !chunk.trim().is_empty())
        .map(|chunk| {
            let mut event = String::new();
            let mut data = Value::Null;
            for line in chunk.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = name.to_owned();
                }
                if let Some(json) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(json).unwrap();
                }
            }
            assert_eq!(
                data["type"],
                event.as_str(),
                "event name and data type agree"
            );
            (event, data)
        })
        .collect()
}

#[tokio::test]
async fn streaming_answer_rebuilds_the_plain_answer() {
    let gateway = Gateway::start().await;
    let plain_request = first_request("framework: next-js");
    let plain: Value = gateway
        .post_messages(PAT, &plain_request)
        .await
        .json()
        .await
        .unwrap();
    let mut stream_request = plain_request.clone();
    stream_request["stream"] = json!(true);
    let response = gateway.post_messages(PAT, &stream_request).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);

    // Accumulate like an Anthropic client does.
    let mut message = events[0].1["message"].clone();
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial_json: Vec<String> = Vec::new();
    for (name, data) in &events[1..] {
        match name.as_str() {
            "content_block_start" => {
                blocks.push(data["content_block"].clone());
                partial_json.push(String::new());
            }
            "content_block_delta" => {
                let index = data["index"].as_u64().unwrap() as usize;
                match data["delta"]["type"].as_str().unwrap() {
                    "text_delta" => {
                        let text = blocks[index]["text"].as_str().unwrap().to_owned()
                            + data["delta"]["text"].as_str().unwrap();
                        blocks[index]["text"] = json!(text);
                    }
                    "input_json_delta" => partial_json[index]
                        .push_str(data["delta"]["partial_json"].as_str().unwrap()),
                    other => panic!("unexpected delta {other}"),
                }
            }
            "content_block_stop" => {
                let index = data["index"].as_u64().unwrap() as usize;
                if blocks[index]["type"] == "tool_use" {
                    blocks[index]["input"] = serde_json::from_str(&partial_json[index]).unwrap();
                }
            }
            "message_delta" => {
                message["stop_reason"] = data["delta"]["stop_reason"].clone();
                message["usage"]["output_tokens"] = data["usage"]["output_tokens"].clone();
            }
            // Anthropic's stream carries a ping; a client skips it.
            "message_stop" | "ping" => {}
            other => panic!("unexpected event {other}"),
        }
    }
    message["content"] = json!(blocks);
    assert_eq!(message, plain);
}

#[tokio::test]
async fn malformed_bodies_are_400_never_500() {
    let gateway = Gateway::start().await;
    let cases: &[(&str, &str)] = &[
        ("application/json", ""),
        ("application/json", "not json"),
        ("application/json", "[1,2]"),
        ("application/json", "{}"),
        (
            "application/json",
            r#"{"model":"m","max_tokens":"lots","messages":[]}"#,
        ),
        (
            "application/json",
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":{"a":1}}]}"#,
        ),
        (
            "application/json; charset=utf-8",
            r#"{"model":"m","max_tokens":1,"messages":"hi"}"#,
        ),
        (
            "text/plain",
            r#"{"model":"m","max_tokens":1,"messages":[]}"#,
        ),
        ("", r#"{"model":"m","max_tokens":1,"messages":[]}"#),
        // Each odd input in a body that parses, so the check that answers
        // is the one for that input: a model of NUL and U+FFFF (JSON
        // escapes) reaches max_tokens, which is not an integer.
        (
            "application/json",
            r#"{"model":"\u0000\uffff","max_tokens":1e300,"messages":[]}"#,
        ),
        // A raw control character, which JSON itself forbids.
        ("application/json", "{\"model\":\"\u{0}\"}"),
        // A number past f64, which the JSON parser refuses.
        (
            "application/json",
            r#"{"model":"m","max_tokens":1e400,"messages":[]}"#,
        ),
    ];
    let mut report = String::new();
    for (content_type, body) in cases {
        let mut request = gateway
            .http
            .post(gateway.messages_url())
            .header("x-api-key", PAT)
            .body(body.to_string());
        if !content_type.is_empty() {
            request = request.header("content-type", *content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{content_type} {body}: {answer}");
        report.push_str(&format!(
            "{content_type:?} {body:?}\n  -> {status} {answer}\n"
        ));
    }
    insta::assert_snapshot!(report);
}

#[tokio::test]
async fn an_empty_conversation_still_answers() {
    let gateway = Gateway::start().await;
    let body = json!({"model": "m", "max_tokens": 1, "messages": []});
    let response = gateway.post_messages(PAT, &body).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn bodies_are_read_only_after_authentication() {
    let gateway = Gateway::start().await;
    let response = gateway
        .http
        .post(gateway.messages_url())
        .header("x-api-key", PAT_UNKNOWN)
        .header("content-type", "text/plain")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        401,
        "an unauthenticated caller learns nothing about the body"
    );
}

#[tokio::test]
async fn oversized_body_is_413_and_a_large_one_is_fine() {
    let gateway = Gateway::start().await;
    let mut large = first_request("framework: next-js");
    large["metadata"] = json!({"padding": "x".repeat(3 * 1024 * 1024)});
    assert_eq!(gateway.post_messages(PAT, &large).await.status(), 200);
    large["metadata"] = json!({"padding": "x".repeat(5 * 1024 * 1024)});
    let response = gateway.post_messages(PAT, &large).await;
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["detail"].as_str().unwrap().contains("MiB"),
        "{answer}"
    );
}

#[tokio::test]
async fn trailing_slash_answers_too() {
    let gateway = Gateway::start().await;
    let response = gateway
        .http
        .post(format!("{}/", gateway.messages_url()))
        .header("x-api-key", PAT)
        .json(&first_request("framework: next-js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
