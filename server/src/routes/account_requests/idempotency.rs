//! Account-request idempotency (beyond the real server, protocol section 4):
//! the same partner sending the same `id` again within 24 h with the same
//! body gets the original answer verbatim (its code included) and no second
//! account; with another body, `409 idempotency_conflict`. Bodies are
//! compared canonically: parsed JSON with sorted keys, not bytes.

use serde_json::Value;

use protocol::credential::hash_secret;

use crate::error::ApiError;
use crate::state::AppState;

/// How long an answer is kept for replay.
pub const WINDOW_SECONDS: i64 = 24 * 3600;

/// What is stored for a body: its hash (for comparison) and the answer
/// sealed with a key derived from the body itself. The answer holds a code,
/// and codes are never stored in plain; only a caller that sends the same
/// body again can open it, and such a caller is owed the answer anyway.
pub fn seal(canonical: &str, answer: &str) -> (String, String) {
    let sealed = xor_keystream(canonical, answer.as_bytes());
    (
        hash_secret(&format!("idempotency-body:{canonical}")),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sealed),
    )
}

/// The answer [`seal`] stored, opened with the same canonical body.
pub fn open(canonical: &str, sealed: &str) -> Option<String> {
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sealed).ok()?;
    String::from_utf8(xor_keystream(canonical, &bytes)).ok()
}

/// XOR with SHA-256 in counter mode, keyed by the canonical body.
fn xor_keystream(canonical: &str, data: &[u8]) -> Vec<u8> {
    let key = hash_secret(&format!("idempotency-answer-key:{canonical}"));
    let mut out = Vec::with_capacity(data.len());
    for (block, chunk) in data.chunks(32).enumerate() {
        let stream = hash_secret(&format!("{key}:{block}"));
        for (index, byte) in chunk.iter().enumerate() {
            let pad = u8::from_str_radix(&stream[index * 2..index * 2 + 2], 16).unwrap_or(0);
            out.push(byte ^ pad);
        }
    }
    out
}

/// What a request's stored twin means for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No twin within the window: handle the request.
    New,
    /// The same body: send the stored answer.
    Replay,
    /// Another body under the same id.
    Conflict,
}

/// The rule, over plain data: `stored` is the twin's canonical body and
/// time, if there is one.
pub fn verdict(stored: Option<(&str, i64)>, canonical: &str, now: i64) -> Verdict {
    match stored {
        Some((_, created_at)) if now - created_at >= WINDOW_SECONDS => Verdict::New,
        Some((body, _)) if body == canonical => Verdict::Replay,
        Some(_) => Verdict::Conflict,
        None => Verdict::New,
    }
}

/// The body in canonical form: object keys sorted at every depth, no
/// insignificant whitespace. A body that is not JSON (refused earlier)
/// canonicalises to its bytes.
pub fn canonical_body(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => sorted(value).to_string(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|left, right| left.0.cmp(&right.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The stored answer to send again, `Ok(None)` for a new request, or the
/// conflict.
pub async fn replay(
    state: &AppState,
    client_id: &str,
    request_id: &str,
    canonical: &str,
) -> Result<Option<Value>, ApiError> {
    let stored = state
        .db
        .stored_account_request(client_id, request_id)
        .await?;
    let twin = stored
        .as_ref()
        .map(|stored| (stored.canonical_body.as_str(), stored.created_at));
    let (body_hash, _) = seal(canonical, "");
    match verdict(twin, &body_hash, state.clock.now()) {
        Verdict::New => Ok(None),
        Verdict::Replay => {
            let answer = stored
                .and_then(|stored| open(canonical, &stored.answer))
                .unwrap_or_default();
            serde_json::from_str(&answer)
                .map(Some)
                .map_err(|error| ApiError::Internal(format!("stored answer: {error}")))
        }
        Verdict::Conflict => Err(ApiError::IdempotencyConflict(format!(
            "Account request {request_id:?} was sent before with a different body; use a new id for a new request"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_compare_as_json_not_bytes() {
        fn check(left: &str, right: &str, same: bool) {
            assert_eq!(
                canonical_body(left.as_bytes()) == canonical_body(right.as_bytes()),
                same,
                "{left} vs {right}"
            );
        }
        check(r#"{"a":1,"b":2}"#, r#"{ "b": 2, "a": 1 }"#, true);
        check(
            r#"{"c":{"y":1,"x":[{"q":1,"p":2}]}}"#,
            r#"{"c":{"x":[{"p":2,"q":1}],"y":1}}"#,
            true,
        );
        check(r#"{"a":1}"#, r#"{"a":2}"#, false);
        check(r#"{"s":["x","y"]}"#, r#"{"s":["y","x"]}"#, false);
        check(r#"{"a":1}"#, r#"{"a":1,"b":null}"#, false);
    }

    #[test]
    fn a_sealed_answer_opens_only_with_its_body() {
        let answer = r#"{"id":"r1","type":"oauth","oauth":{"code":"secret-code-0123456789abcdefghijklmnop"}}"#;
        let (hash, sealed) = seal("body", answer);
        assert!(!sealed.contains("secret-code"));
        assert!(!hash.contains("body"));
        assert_eq!(open("body", &sealed).as_deref(), Some(answer));
        assert_ne!(open("other body", &sealed).as_deref(), Some(answer));
    }

    #[test]
    fn verdict_table() {
        fn check(stored: Option<(&str, i64)>, now: i64, expected: Verdict) {
            assert_eq!(
                verdict(stored, "body", now),
                expected,
                "{stored:?} at {now}"
            );
        }
        check(None, 100, Verdict::New);
        check(Some(("body", 100)), 100, Verdict::Replay);
        check(
            Some(("body", 100)),
            100 + WINDOW_SECONDS - 1,
            Verdict::Replay,
        );
        check(Some(("other", 100)), 200, Verdict::Conflict);
        check(Some(("other", 100)), 100 + WINDOW_SECONDS, Verdict::New);
        check(Some(("body", 100)), 100 + WINDOW_SECONDS, Verdict::New);
    }
}
