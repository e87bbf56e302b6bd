//! The gateway's streamed answer (protocol section 7, `"stream": true`):
//! server-sent events in Anthropic's format, rebuilt into the same
//! [`MessagesResponse`] the JSON answer gives. Pure over bytes: the agent
//! feeds each chunk as it arrives, so an `error` event or a malformed one
//! stops the read at once, and [`Decoder::finish`] refuses a stream that
//! ended before `message_stop` (a cut stream).
//!
//! What counts: text blocks are the concatenation of their `text_delta`s;
//! a `tool_use` block's input is the concatenation of its `input_json_delta`
//! `partial_json` pieces, parsed at `content_block_stop`; the stop reason
//! comes from `message_delta`. Comments (`: …`), `ping` and event types this
//! wizard does not know are ignored, as Anthropic asks of its clients.

use std::collections::BTreeMap;
use std::fmt;

use protocol::gateway::{ContentBlock, MessagesResponse, StreamEvent};
use serde_json::Value;

/// Why a stream is not a usable answer. Each is retried like a broken
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// The body ended before `message_stop`.
    Cut,
    /// An event the wizard cannot make sense of.
    Malformed(String),
    /// The gateway sent an `error` event (`overloaded_error`, …).
    Gateway { kind: String, message: String },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Cut => write!(f, "the stream ended before message_stop"),
            StreamError::Malformed(why) => write!(f, "a malformed event: {why}"),
            StreamError::Gateway { kind, message } => {
                write!(f, "an error event ({kind}): {message}")
            }
        }
    }
}

/// The whole of a stream at once.
pub fn parse(bytes: &[u8]) -> Result<MessagesResponse, StreamError> {
    let mut decoder = Decoder::default();
    decoder.feed(bytes)?;
    decoder.finish()
}

/// An incremental reader of one streamed answer.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of a line not yet ended.
    pending: Vec<u8>,
    /// The `data:` lines of the event being read.
    data: Vec<String>,
    message: Option<MessagesResponse>,
    blocks: BTreeMap<u32, Block>,
    stopped: bool,
}

/// A content block being rebuilt.
#[derive(Debug)]
struct Block {
    content: ContentBlock,
    partial_json: String,
    open: bool,
}

impl Decoder {
    /// Reads one chunk of the body, in whatever pieces the network cut it.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        for &byte in bytes {
            if byte != b'\n' {
                self.pending.push(byte);
                continue;
            }
            let mut line = std::mem::take(&mut self.pending);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8(line)
                .map_err(|_| StreamError::Malformed("a line is not UTF-8".into()))?;
            self.line(&line)?;
        }
        Ok(())
    }

    /// The answer, once the stream has ended.
    pub fn finish(self) -> Result<MessagesResponse, StreamError> {
        if !self.stopped {
            return Err(StreamError::Cut);
        }
        let mut message = self
            .message
            .ok_or_else(|| StreamError::Malformed("message_stop without message_start".into()))?;
        if let Some((index, _)) = self.blocks.iter().find(|(_, block)| block.open) {
            return Err(StreamError::Malformed(format!(
                "content block {index} was never stopped"
            )));
        }
        message.content = self
            .blocks
            .into_values()
            .map(|block| block.content)
            .collect();
        Ok(message)
    }

    fn line(&mut self, line: &str) -> Result<(), StreamError> {
        if line.is_empty() {
            let data = std::mem::take(&mut self.data);
            return match data.is_empty() {
                true => Ok(()),
                false => self.event(&data.join("\n")),
            };
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        // The event's type is read from its data, which always names it;
        // `event:`, `id:` and `retry:` add nothing the wizard uses.
        if field == "data" {
            self.data.push(value.to_owned());
        }
        Ok(())
    }

    fn event(&mut self, data: &str) -> Result<(), StreamError> {
        let value: Value = serde_json::from_str(data)
            .map_err(|error| StreamError::Malformed(format!("data is not JSON: {error}")))?;
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| StreamError::Malformed("an event without a type".into()))?;
        if !KNOWN_EVENTS.contains(&kind) {
            return Ok(());
        }
        let kind = kind.to_owned();
        let mut value = value;
        if kind == "message_delta" {
            // Anthropic's `message_delta` usage carries only output_tokens.
            if let Some(usage) = value.get_mut("usage").and_then(Value::as_object_mut) {
                usage.entry("input_tokens").or_insert(Value::from(0));
            }
        }
        let event: StreamEvent = serde_json::from_value(value)
            .map_err(|error| StreamError::Malformed(format!("{kind}: {error}")))?;
        if self.stopped {
            return Ok(());
        }
        match event {
            StreamEvent::Ping => Ok(()),
            StreamEvent::Error { error } => Err(StreamError::Gateway {
                kind: text(&error, "type").unwrap_or("error").to_owned(),
                message: protocol::credential::redact_secrets(
                    text(&error, "message").unwrap_or_default(),
                ),
            }),
            StreamEvent::MessageStart { message } => match self.message {
                Some(_) => Err(StreamError::Malformed("a second message_start".into())),
                None => {
                    self.message = Some(message);
                    Ok(())
                }
            },
            other => {
                let Some(message) = self.message.as_mut() else {
                    return Err(StreamError::Malformed(format!(
                        "{kind} before message_start"
                    )));
                };
                apply(message, &mut self.blocks, &mut self.stopped, other)
            }
        }
    }
}

/// The event types of Anthropic's stream; others are ignored.
const KNOWN_EVENTS: [&str; 8] = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
];

fn apply(
    message: &mut MessagesResponse,
    blocks: &mut BTreeMap<u32, Block>,
    stopped: &mut bool,
    event: StreamEvent,
) -> Result<(), StreamError> {
    match event {
        StreamEvent::ContentBlockStart {
            index,
            content_block,
        } => {
            if blocks.contains_key(&index) {
                return Err(StreamError::Malformed(format!(
                    "content block {index} started twice"
                )));
            }
            blocks.insert(
                index,
                Block {
                    content: content_block,
                    partial_json: String::new(),
                    open: true,
                },
            );
        }
        StreamEvent::ContentBlockDelta { index, delta } => {
            let block = open_block(blocks, index)?;
            match (text(&delta, "type"), &mut block.content) {
                (Some("text_delta"), ContentBlock::Text { text: whole }) => {
                    whole.push_str(required(&delta, "text")?);
                }
                (Some("input_json_delta"), ContentBlock::ToolUse { .. }) => {
                    block
                        .partial_json
                        .push_str(required(&delta, "partial_json")?);
                }
                (Some(kind @ ("text_delta" | "input_json_delta")), _) => {
                    return Err(StreamError::Malformed(format!(
                        "a {kind} for content block {index}, which is not of that kind"
                    )));
                }
                // Deltas of blocks the agent does not use (thinking,
                // signatures, citations) change nothing here.
                _ => {}
            }
        }
        StreamEvent::ContentBlockStop { index } => {
            let block = open_block(blocks, index)?;
            block.open = false;
            if let ContentBlock::ToolUse { input, .. } = &mut block.content {
                if !block.partial_json.is_empty() {
                    *input = serde_json::from_str(&block.partial_json).map_err(|error| {
                        StreamError::Malformed(format!(
                            "the input of tool_use block {index} is not JSON: {error}"
                        ))
                    })?;
                }
            }
        }
        StreamEvent::MessageDelta { delta, usage } => {
            if let Some(reason) = delta.get("stop_reason") {
                message.stop_reason = reason.as_str().map(str::to_owned);
            }
            if let Some(sequence) = delta.get("stop_sequence") {
                message.stop_sequence = sequence.as_str().map(str::to_owned);
            }
            message.usage.output_tokens = usage.output_tokens;
        }
        StreamEvent::MessageStop => *stopped = true,
        StreamEvent::MessageStart { .. } | StreamEvent::Ping | StreamEvent::Error { .. } => {}
    }
    Ok(())
}

fn open_block(blocks: &mut BTreeMap<u32, Block>, index: u32) -> Result<&mut Block, StreamError> {
    match blocks.get_mut(&index) {
        Some(block) if block.open => Ok(block),
        Some(_) => Err(StreamError::Malformed(format!(
            "content block {index} was already stopped"
        ))),
        None => Err(StreamError::Malformed(format!(
            "content block {index} was never started"
        ))),
    }
}

fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

fn required<'a>(value: &'a Value, field: &str) -> Result<&'a str, StreamError> {
    text(value, field).ok_or_else(|| StreamError::Malformed(format!("a delta without {field}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the gateway sends for one turn: a text block and a `Write`, the
    /// input cut into pieces that are not JSON on their own.
    const WHOLE: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":0}}}\n",
        "\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n",
        "\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Adding Post\"}}\n",
        "\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hog … ü\"}}\n",
        "\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n",
        "\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Write\",\"input\":{}}}\n",
        "\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"file_path\\\": \\\"app/\"}}\n",
        "\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ph.ts\\\", \\\"content\\\": \\\"init()\\\\n\\\"}\"}}\n",
        "\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n",
        "\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":5,\"output_tokens\":42}}\n",
        "\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n",
        "\n",
    );

    fn expected() -> MessagesResponse {
        serde_json::from_value(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [
                {"type": "text", "text": "Adding PostHog … ü"},
                {"type": "tool_use", "id": "toolu_1", "name": "Write",
                 "input": {"file_path": "app/ph.ts", "content": "init()\n"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 42}
        }))
        .unwrap()
    }

    /// `WHOLE` with `extra` inserted before the first `content_block_start`.
    fn with_before_blocks(extra: &str) -> String {
        WHOLE.replacen(
            "event: content_block_start",
            &format!("{extra}event: content_block_start"),
            1,
        )
    }

    fn check(name: &str, body: &str, wanted: Result<MessagesResponse, StreamError>) {
        assert_eq!(parse(body.as_bytes()), wanted, "{name}");
    }

    #[test]
    fn streams_table() {
        let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let cut_at = WHOLE
            .find("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}")
            .unwrap();
        let cases: Vec<(&str, String, Result<MessagesResponse, StreamError>)> = vec![
            ("a whole stream", WHOLE.into(), Ok(expected())),
            ("CRLF line ends", WHOLE.replace('\n', "\r\n"), Ok(expected())),
            ("comments and pings are ignored",
             with_before_blocks(": keep-alive\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n"),
             Ok(expected())),
            ("unknown event types are ignored",
             with_before_blocks("event: future_thing\ndata: {\"type\":\"future_thing\",\"x\":[1]}\n\n"),
             Ok(expected())),
            ("a data field split over two lines",
             with_before_blocks("data: {\"type\":\ndata: \"ping\"}\n\n"),
             Ok(expected())),
            ("cut before message_stop", WHOLE[..cut_at].into(), Err(StreamError::Cut)),
            ("cut inside the last event",
             WHOLE[..WHOLE.len() - 3].into(),
             Err(StreamError::Cut)),
            ("an empty body", String::new(), Err(StreamError::Cut)),
            ("an error event",
             format!("{}{overloaded}", &WHOLE[..cut_at]),
             Err(StreamError::Gateway { kind: "overloaded_error".into(), message: "Overloaded".into() })),
            ("data that is not JSON",
             with_before_blocks("data: {not json\n\n"),
             Err(StreamError::Malformed("data is not JSON: key must be a string at line 1 column 2".into()))),
            ("a delta for a block never started",
             WHOLE.replace("\"index\":0,\"delta\"", "\"index\":5,\"delta\""),
             Err(StreamError::Malformed("content block 5 was never started".into()))),
            ("tool input that never becomes JSON",
             WHOLE.replace("init()\\\\n\\\"}", "init()"),
             Err(StreamError::Malformed("the input of tool_use block 1 is not JSON: EOF while parsing a string at line 1 column 45".into()))),
            ("blocks before message_start",
             WHOLE.split_once("\n\n").unwrap().1.into(),
             Err(StreamError::Malformed("content_block_start before message_start".into()))),
        ];
        for (name, body, wanted) in cases {
            check(name, &body, wanted);
        }
    }

    #[test]
    fn a_stream_split_at_every_byte_boundary_gives_the_same_answer() {
        let bytes = WHOLE.as_bytes();
        for cut in 0..=bytes.len() {
            let mut decoder = Decoder::default();
            decoder.feed(&bytes[..cut]).unwrap();
            decoder.feed(&bytes[cut..]).unwrap();
            assert_eq!(decoder.finish(), Ok(expected()), "split at byte {cut}");
        }
        let mut decoder = Decoder::default();
        for byte in bytes {
            decoder.feed(std::slice::from_ref(byte)).unwrap();
        }
        assert_eq!(decoder.finish(), Ok(expected()), "one byte at a time");
    }
}
