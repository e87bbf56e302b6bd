//! Account-request idempotency (beyond the real server, protocol section 4):
//! the same partner sending the same `id` again within 24 h with the same
//! body gets the original answer verbatim (its code included) and no second
//! account; with another body, `409 idempotency_conflict`. Bodies are
//! compared canonically: parsed JSON with sorted keys, not bytes.

use serde_json::Value;

use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use protocol::credential::hash_secret;
use protocol::random::RandomSource;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// How long an answer is kept for replay.
pub const WINDOW_SECONDS: i64 = 24 * 3600;

/// What is stored for a body: its hash (for comparison) and the answer
/// sealed (ChaCha20-Poly1305) under a key derived from the body itself. The
/// answer holds a code, and codes are never stored in plain; only a caller
/// that sends the same body again can open it, and such a caller is owed
/// the answer anyway. The body carries the caller's PKCE challenge (or is
/// signed), so the key is not guessable from what the database holds.
pub fn seal(canonical: &str, answer: &str, random: &dyn RandomSource) -> (String, String) {
    let nonce = random.bytes(12);
    let sealed = cipher(canonical)
        .encrypt(Nonce::from_slice(&nonce), answer.as_bytes())
        .expect("sealing a short answer cannot fail");
    let mut stored = nonce;
    stored.extend_from_slice(&sealed);
    (body_hash(canonical), STANDARD.encode(stored))
}

/// The hash a body is compared by.
pub fn body_hash(canonical: &str) -> String {
    hash_secret(&format!("idempotency-body:{canonical}"))
}

/// The answer [`seal`] stored, opened with the same canonical body; `None`
/// for any other body (the AEAD tag does not verify).
pub fn open(canonical: &str, sealed: &str) -> Option<String> {
    let bytes = STANDARD.decode(sealed).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let plain = cipher(canonical)
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .ok()?;
    String::from_utf8(plain).ok()
}

fn cipher(canonical: &str) -> ChaCha20Poly1305 {
    let key = Sha256::digest(format!("idempotency-answer-key:{canonical}").as_bytes());
    ChaCha20Poly1305::new(Key::from_slice(&key))
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
    match verdict(twin, &body_hash(canonical), state.clock.now()) {
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
        let random = protocol::random::SeededRandom::new(4);
        let (hash, sealed) = seal("body", answer, &random);
        assert!(!sealed.contains("secret-code"));
        assert!(!hash.contains("body"));
        assert_eq!(open("body", &sealed).as_deref(), Some(answer));
        assert_eq!(
            open("other body", &sealed),
            None,
            "another body cannot open it"
        );
        assert_eq!(open("body", "not base64!"), None);
        let (_, again) = seal("body", answer, &random);
        assert_ne!(sealed, again, "each seal has its own nonce");
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
        // The window is a day, in seconds.
        check(Some(("body", 0)), 86_399, Verdict::Replay);
        check(Some(("body", 0)), 86_400, Verdict::New);
    }

    /// If this fails, a stored answer cut short (a damaged row) panics the
    /// request instead of being treated as unreadable.
    #[test]
    fn a_short_or_foreign_seal_does_not_open() {
        let (_, sealed) = seal("body", "answer", &protocol::random::SeededRandom::new(5));
        assert_eq!(open("body", &sealed).as_deref(), Some("answer"));
        assert_eq!(open("other body", &sealed), None);
        for length in [0, 5, 11, 12] {
            assert_eq!(
                open("body", &STANDARD.encode(vec![0u8; length])),
                None,
                "{length}"
            );
        }
        assert_eq!(open("body", "not base64!"), None);
    }
}
