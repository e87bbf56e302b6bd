//! Server-sent events in Anthropic's streaming format, built from a whole
//! answer: `message_start`, per block `content_block_start`, deltas
//! (`text_delta`, `input_json_delta`) and `content_block_stop`, then
//! `message_delta` with the stop reason and `message_stop`. One `ping`
//! follows the first `content_block_start`, where Anthropic's own stream
//! sends it (clients must skip it).

use protocol::gateway::{ContentBlock, MessagesResponse, StreamEvent, Usage};
use serde_json::json;

/// Text and tool input are cut into deltas of at most this many bytes, so
/// clients exercise their accumulation code.
const DELTA_BYTES: usize = 64;

/// The events of one answer, in order.
pub fn events(response: &MessagesResponse) -> Vec<StreamEvent> {
    let mut start = response.clone();
    start.content = Vec::new();
    start.stop_reason = None;
    start.usage = Usage {
        input_tokens: response.usage.input_tokens,
        output_tokens: 0,
    };
    let mut events = vec![StreamEvent::MessageStart { message: start }];
    for (index, block) in response.content.iter().enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        match block {
            ContentBlock::Text { text } => {
                events.push(StreamEvent::ContentBlockStart {
                    index,
                    content_block: ContentBlock::Text {
                        text: String::new(),
                    },
                });
                push_first_ping(&mut events, index);
                for piece in chunks(text) {
                    events.push(StreamEvent::ContentBlockDelta {
                        index,
                        delta: json!({"type": "text_delta", "text": piece}),
                    });
                }
            }
            ContentBlock::ToolUse { id, name, input } => {
                events.push(StreamEvent::ContentBlockStart {
                    index,
                    content_block: ContentBlock::ToolUse {
                        id: id.clone(),
                        name: name.clone(),
                        input: json!({}),
                    },
                });
                push_first_ping(&mut events, index);
                let input_json = serde_json::to_string(input).unwrap_or_else(|_| "{}".to_owned());
                for piece in chunks(&input_json) {
                    events.push(StreamEvent::ContentBlockDelta {
                        index,
                        delta: json!({"type": "input_json_delta", "partial_json": piece}),
                    });
                }
            }
            // The agent never writes other blocks; skip rather than fail.
            _ => continue,
        }
        events.push(StreamEvent::ContentBlockStop { index });
    }
    events.push(StreamEvent::MessageDelta {
        delta: json!({"stop_reason": response.stop_reason, "stop_sequence": null}),
        usage: response.usage,
    });
    events.push(StreamEvent::MessageStop);
    events
}

fn push_first_ping(events: &mut Vec<StreamEvent>, index: u32) {
    if index == 0 {
        events.push(StreamEvent::Ping);
    }
}

/// The `text/event-stream` body: `event: <type>` and `data: <json>` per event.
pub fn encode(events: &[StreamEvent]) -> String {
    let mut body = String::new();
    for event in events {
        let data = serde_json::to_value(event).unwrap_or_default();
        let kind = data["type"].as_str().unwrap_or("error").to_owned();
        body.push_str("event: ");
        body.push_str(&kind);
        body.push_str("\ndata: ");
        body.push_str(&data.to_string());
        body.push_str("\n\n");
    }
    body
}

/// Splits `text` into pieces of at most [`DELTA_BYTES`], on char boundaries.
fn chunks(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(DELTA_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_rebuild_the_answer() {
        let input = json!({"file_path": "app/page.tsx", "content": "é".repeat(100)});
        let response = MessagesResponse {
            id: "msg_next-js_1".to_owned(),
            kind: "message".to_owned(),
            role: "assistant".to_owned(),
            model: "claude-test".to_owned(),
            content: vec![
                ContentBlock::Text {
                    text: "ü".repeat(90),
                },
                ContentBlock::ToolUse {
                    id: "toolu_1_1".to_owned(),
                    name: "Write".to_owned(),
                    input: input.clone(),
                },
            ],
            stop_reason: Some("tool_use".to_owned()),
            stop_sequence: None,
            usage: Usage {
                input_tokens: 10,
                output_tokens: 20,
            },
        };
        let events = events(&response);
        let mut text = String::new();
        let mut partial_json = String::new();
        for event in &events {
            if let StreamEvent::ContentBlockDelta { index, delta } = event {
                match (index, delta["type"].as_str()) {
                    (0, Some("text_delta")) => text.push_str(delta["text"].as_str().unwrap()),
                    (1, Some("input_json_delta")) => {
                        partial_json.push_str(delta["partial_json"].as_str().unwrap())
                    }
                    other => panic!("unexpected delta {other:?}"),
                }
            }
        }
        assert_eq!(text, "ü".repeat(90));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&partial_json).unwrap(),
            input
        );
        assert!(matches!(events[0], StreamEvent::MessageStart { .. }));
        assert!(matches!(
            events[1],
            StreamEvent::ContentBlockStart { index: 0, .. }
        ));
        assert_eq!(events[2], StreamEvent::Ping);
        assert!(matches!(events.last(), Some(StreamEvent::MessageStop)));
        let body = encode(&events);
        assert!(body.starts_with("event: message_start\ndata: {"));
        assert!(body.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    }
}
