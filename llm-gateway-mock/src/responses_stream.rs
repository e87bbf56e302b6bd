//! A Responses API answer in its two forms: the response object, and the
//! server-sent events that build it (`response.created`,
//! `response.in_progress`, per output item its `added`, its text or
//! argument deltas and `done`, then `response.completed`), numbered by
//! `sequence_number` from 0.

use protocol::responses::{
    InputTokensDetails, ItemStatus, OutputContent, OutputFunctionCall, OutputItem, OutputMessage,
    OutputTokensDetails, ResponseObject, ResponseStatus, ResponsesEvent, ResponsesEventKind,
    ResponsesUsage,
};

use crate::agent::render_pi::Reply;

/// Ids and times of one answer, drawn by the route.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub response_id: String,
    pub model: String,
    pub created_at: i64,
    /// Characters of the request, for the token estimate.
    pub request_chars: usize,
}

/// The completed response for `reply`.
pub fn completed(envelope: &Envelope, reply: &Reply) -> ResponseObject {
    let output = output_items(envelope, reply, ItemStatus::Completed);
    let output_chars: usize = output
        .iter()
        .map(|item| serde_json::to_string(item).map_or(0, |text| text.len()))
        .sum();
    let input_tokens = (envelope.request_chars / 4) as u64;
    let output_tokens = (output_chars / 4) as u64;
    ResponseObject {
        usage: Some(ResponsesUsage {
            input_tokens,
            input_tokens_details: InputTokensDetails { cached_tokens: 0 },
            output_tokens,
            output_tokens_details: OutputTokensDetails {
                reasoning_tokens: 0,
            },
            total_tokens: input_tokens + output_tokens,
        }),
        ..response(envelope, ResponseStatus::Completed, output)
    }
}

/// The events of a streamed answer, ending with `response.completed`.
pub fn events(envelope: &Envelope, reply: &Reply) -> Vec<ResponsesEvent> {
    let started = response(envelope, ResponseStatus::InProgress, Vec::new());
    let mut kinds = vec![
        ResponsesEventKind::Created {
            response: started.clone(),
        },
        ResponsesEventKind::InProgress { response: started },
    ];
    let finished = output_items(envelope, reply, ItemStatus::Completed);
    for (index, item) in finished.into_iter().enumerate() {
        let output_index = u32::try_from(index).unwrap_or(u32::MAX);
        kinds.extend(item_events(output_index, item));
    }
    kinds.push(ResponsesEventKind::Completed {
        response: completed(envelope, reply),
    });
    kinds
        .into_iter()
        .zip(0u64..)
        .map(|(kind, sequence_number)| ResponsesEvent {
            kind,
            sequence_number,
        })
        .collect()
}

/// The events as the `text/event-stream` body: `event:` and `data:` lines.
pub fn event_stream(events: &[ResponsesEvent]) -> String {
    events
        .iter()
        .map(|event| {
            let data = serde_json::to_string(event).unwrap_or_default();
            format!("event: {}\ndata: {data}\n\n", event.name())
        })
        .collect()
}

fn response(
    envelope: &Envelope,
    status: ResponseStatus,
    output: Vec<OutputItem>,
) -> ResponseObject {
    ResponseObject {
        id: envelope.response_id.clone(),
        object: "response".to_owned(),
        created_at: envelope.created_at,
        status,
        model: envelope.model.clone(),
        output,
        usage: None,
    }
}

/// The items of the answer: a message when there is text, then the call.
fn output_items(envelope: &Envelope, reply: &Reply, status: ItemStatus) -> Vec<OutputItem> {
    let suffix = envelope
        .response_id
        .strip_prefix("resp_")
        .unwrap_or(&envelope.response_id);
    let (text, call) = match reply {
        Reply::Call {
            text,
            call_id,
            call,
            ..
        } => (text, Some((call_id, call))),
        Reply::Done { text } => (text, None),
    };
    let mut items = Vec::new();
    if !text.is_empty() {
        items.push(OutputItem::Message(OutputMessage {
            id: format!("msg_{suffix}"),
            status,
            role: "assistant".to_owned(),
            content: vec![output_text(text)],
        }));
    }
    if let Some((call_id, call)) = call {
        items.push(OutputItem::FunctionCall(OutputFunctionCall {
            id: format!("fc_{suffix}"),
            call_id: call_id.clone(),
            name: call.name().to_owned(),
            arguments: call.arguments().to_string(),
            status,
        }));
    }
    items
}

fn output_text(text: &str) -> OutputContent {
    OutputContent::OutputText {
        text: text.to_owned(),
        annotations: Vec::new(),
    }
}

/// One item's events: added (empty, in progress), its text part or its
/// arguments in one delta, done (complete).
fn item_events(output_index: u32, done: OutputItem) -> Vec<ResponsesEventKind> {
    match &done {
        OutputItem::Message(message) => {
            let text: String = message
                .content
                .iter()
                .map(|OutputContent::OutputText { text, .. }| text.as_str())
                .collect();
            let item_id = message.id.clone();
            let added = OutputItem::Message(OutputMessage {
                status: ItemStatus::InProgress,
                content: Vec::new(),
                ..message.clone()
            });
            vec![
                ResponsesEventKind::OutputItemAdded {
                    output_index,
                    item: added,
                },
                ResponsesEventKind::ContentPartAdded {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    part: output_text(""),
                },
                ResponsesEventKind::OutputTextDelta {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    delta: text.clone(),
                },
                ResponsesEventKind::OutputTextDone {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    text: text.clone(),
                },
                ResponsesEventKind::ContentPartDone {
                    item_id,
                    output_index,
                    content_index: 0,
                    part: output_text(&text),
                },
                ResponsesEventKind::OutputItemDone {
                    output_index,
                    item: done,
                },
            ]
        }
        OutputItem::FunctionCall(call) => {
            let added = OutputItem::FunctionCall(OutputFunctionCall {
                arguments: String::new(),
                status: ItemStatus::InProgress,
                ..call.clone()
            });
            vec![
                ResponsesEventKind::OutputItemAdded {
                    output_index,
                    item: added,
                },
                ResponsesEventKind::FunctionCallArgumentsDelta {
                    item_id: call.id.clone(),
                    output_index,
                    delta: call.arguments.clone(),
                },
                ResponsesEventKind::FunctionCallArgumentsDone {
                    item_id: call.id.clone(),
                    output_index,
                    arguments: call.arguments.clone(),
                },
                ResponsesEventKind::OutputItemDone {
                    output_index,
                    item: done,
                },
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::render_pi::Call;

    fn envelope() -> Envelope {
        Envelope {
            response_id: "resp_abc".to_owned(),
            model: "openai/gpt-test".to_owned(),
            created_at: 1_700_000_000,
            request_chars: 400,
        }
    }

    fn names(reply: &Reply) -> Vec<&'static str> {
        events(&envelope(), reply)
            .iter()
            .map(ResponsesEvent::name)
            .collect()
    }

    #[test]
    fn a_call_streams_its_text_then_its_arguments() {
        let reply = Reply::Call {
            step: 0,
            text: "Reading.".to_owned(),
            call_id: "call_ph_0".to_owned(),
            call: Call::new("read", serde_json::json!({"path": "/tmp/app/package.json"})),
        };
        assert_eq!(
            names(&reply),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let all = events(&envelope(), &reply);
        for (index, event) in all.iter().enumerate() {
            assert_eq!(event.sequence_number, index as u64);
        }
        let ResponsesEventKind::Completed { response } = &all.last().unwrap().kind else {
            panic!("the last event must complete the response");
        };
        assert_eq!(response.status, ResponseStatus::Completed);
        assert_eq!(response.output.len(), 2);
        assert!(response.usage.as_ref().unwrap().input_tokens == 100);
    }

    #[test]
    fn a_final_answer_is_one_message() {
        let reply = Reply::Done {
            text: "Done.".to_owned(),
        };
        assert_eq!(names(&reply).len(), 9);
        let body = event_stream(&events(&envelope(), &reply));
        assert!(
            body.starts_with("event: response.created\ndata: {"),
            "{body}"
        );
        assert!(body.ends_with("\n\n"));
        assert_eq!(body.matches("event: ").count(), 9);
    }
}
