//! The admin live view's details (protocol section 10): once the live view
//! asked (`GET /_admin/journal?watch=true`), the newest exchanges' request
//! and response headers and bodies, masked by [`protocol::masking`] (the
//! server's code), for `GET /_admin/exchanges/{request_id}`. The request
//! body is the one a handler read ([`note_body`], a reference to bytes
//! already read, never a second read); an answer of known length is
//! buffered, a streamed one (an injected broken body) is copied as it
//! passes, up to [`protocol::masking::BODY_EXCERPT`], and kept when it ends
//! or breaks. Before anyone asked nothing is kept and no answer is touched.

use std::cell::RefCell;
use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use futures_util::StreamExt;
use protocol::admin::ExchangeDetail;
use protocol::masking::{self, KeptDetails, BODY_EXCERPT};

/// The largest answer of known length buffered whole (ours are far
/// smaller); a bigger one is copied as it streams.
const MAX_BUFFERED_ANSWER: u64 = 16 * 1024 * 1024;

tokio::task_local! {
    /// The body the handler of the request being answered read.
    static READ_BODY: RefCell<Option<Bytes>>;
}

/// Notes the body a handler read, for the live view's details.
pub fn note_body(bytes: &Bytes) {
    let _ = READ_BODY.try_with(|read| *read.borrow_mut() = Some(bytes.clone()));
}

/// Runs `answer` noting the body its handler reads; hands back the answer
/// and that body.
pub async fn reading_body<F>(answer: F) -> (Response, Option<Bytes>)
where
    F: std::future::Future<Output = Response>,
{
    READ_BODY
        .scope(RefCell::new(None), async {
            let response = answer.await;
            (response, READ_BODY.with(|read| read.borrow_mut().take()))
        })
        .await
}

/// Keeps one exchange's masked details in `kept` and hands back the
/// answer: buffered when its length is known, else passed through as it
/// streams, the details kept when it ends.
pub async fn keep(
    kept: Arc<KeptDetails>,
    request_id: &str,
    request_headers: &HeaderMap,
    request_body: Option<Bytes>,
    response: Response,
) -> Response {
    let detail = ExchangeDetail {
        request_id: request_id.to_owned(),
        request_headers: lines(request_headers),
        request_body: request_body
            .map(|body| masking::body(content_type(request_headers), &body))
            .unwrap_or_default(),
        response_headers: lines(response.headers()),
        response_body: String::new(),
    };
    let content_type = content_type(response.headers()).map(str::to_owned);
    let (parts, body) = response.into_parts();
    let known = body
        .size_hint()
        .exact()
        .filter(|length| *length <= MAX_BUFFERED_ANSWER);
    if known.is_some() {
        if let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await {
            kept.keep(ExchangeDetail {
                response_body: masking::body(content_type.as_deref(), &bytes),
                ..detail
            });
            return Response::from_parts(parts, Body::from(bytes));
        }
        kept.keep(detail);
        return Response::from_parts(parts, Body::empty());
    }
    let mut copy = Copy {
        kept,
        detail: Some(detail),
        content_type,
        seen: Vec::new(),
        total: 0,
    };
    let stream = body.into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            copy.push(bytes);
        }
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// A streamed answer's first bytes, kept with its exchange when the
/// stream ends, breaks or is dropped.
struct Copy {
    kept: Arc<KeptDetails>,
    detail: Option<ExchangeDetail>,
    content_type: Option<String>,
    seen: Vec<u8>,
    total: usize,
}

impl Copy {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len();
        let room = BODY_EXCERPT.saturating_sub(self.seen.len());
        self.seen.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let Some(mut detail) = self.detail.take() else {
            return;
        };
        detail.response_body = masking::body(self.content_type.as_deref(), &self.seen);
        if self.total > self.seen.len() {
            detail
                .response_body
                .push_str(&format!("\n… ({} bytes streamed)", self.total));
        }
        self.kept.keep(detail);
    }
}

fn lines(headers: &HeaderMap) -> Vec<protocol::admin::HeaderLine> {
    masking::header_lines(
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    )
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const KEY: &str = "phx_fake_0123456789abcdefABCDEF01234567";

    fn request_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static(KEY));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers
    }

    /// If this fails, the gateway's live view keeps a full credential or
    /// changes the answer it watches.
    #[tokio::test]
    async fn a_whole_answer_is_kept_masked_and_sent_unchanged() {
        let kept = Arc::new(KeptDetails::default());
        let body = Bytes::from(format!(r#"{{"model":"m","api_key":"{KEY}"}}"#));
        let (response, read) = reading_body(async {
            note_body(&body);
            let mut response = Response::new(Body::from(format!("echo {KEY} done")));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            response
        })
        .await;
        let response = keep(kept.clone(), "req_1", &request_headers(), read, response).await;
        let length = format!("echo {KEY} done").len() as u64;
        assert_eq!(response.body().size_hint().exact(), Some(length));
        let sent = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&sent).contains(KEY), "unchanged");
        let detail = kept.detail("req_1").expect("kept");
        let text = serde_json::to_string(&detail).unwrap();
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("phx_***"), "{text}");
        assert!(detail.request_body.contains("\"model\": \"m\""), "{text}");
        assert_eq!(detail.response_body, "echo phx_*** done");
    }

    /// If this fails, a streamed answer is held back until it ends, or its
    /// copy grows past the cap.
    #[tokio::test]
    async fn a_streamed_answer_is_copied_up_to_the_cap() {
        let kept = Arc::new(KeptDetails::default());
        let event = Bytes::from(format!("data: {{\"text\":\"{KEY}\"}}\n\n"));
        let chunk = event.clone();
        let events = (0..200).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
        let mut response = Response::new(Body::from_stream(futures_util::stream::iter(events)));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        let response = keep(kept.clone(), "req_2", &HeaderMap::new(), None, response).await;
        assert!(kept.detail("req_2").is_none(), "kept once the stream ends");
        let sent = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(sent.len(), event.len() * 200);
        let detail = kept.detail("req_2").expect("kept when the stream ended");
        assert!(detail
            .response_body
            .starts_with("data: {\"text\":\"phx_***\"}"));
        assert!(
            detail
                .response_body
                .ends_with(&format!("({} bytes streamed)", event.len() * 200)),
            "{}",
            detail.response_body
        );
        assert!(detail.response_body.len() < BODY_EXCERPT + 200);
        assert!(!detail.response_body.contains(KEY));
    }
}
