//! How the admin live view (protocol section 10) masks an exchange's
//! headers and bodies before the server or the gateway keeps them, and the
//! store both keep them in ([`KeptDetails`]). Stricter than the journal's
//! redaction, since bodies carry
//! passwords, codes and verifiers with no prefix. A header that carries a
//! credential or a cookie keeps only its names and the credential's
//! prefix; form fields and JSON keys that hold secrets are masked by name;
//! and any run of 32 or more URL-safe characters that is not a UUID or a
//! public `phc_` key is masked wherever it stands.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::admin::{ExchangeDetail, HeaderLine};
use crate::credential::{mask, mask_runs, redact_secrets};

/// The most of a body kept, in bytes.
pub const BODY_EXCERPT: usize = 4096;

/// The exchanges whose headers and bodies are kept, newest last.
pub const KEPT_DETAILS: usize = 200;

/// The newest exchanges' masked details, kept only once someone watches
/// (before that nothing is kept and no answer is buffered).
#[derive(Debug, Default)]
pub struct KeptDetails {
    /// Whether anyone asked to watch: only then are details kept.
    watched: AtomicBool,
    details: Mutex<VecDeque<ExchangeDetail>>,
}

impl KeptDetails {
    /// From now on, exchanges' details are kept.
    pub fn watch(&self) {
        self.watched.store(true, Ordering::Relaxed);
    }

    /// Whether someone watches.
    pub fn watched(&self) -> bool {
        self.watched.load(Ordering::Relaxed)
    }

    /// Keeps one exchange's details (already masked), dropping the oldest
    /// beyond [`KEPT_DETAILS`].
    pub fn keep(&self, detail: ExchangeDetail) {
        let mut details = self.lock();
        details.push_back(detail);
        if details.len() > KEPT_DETAILS {
            details.pop_front();
        }
    }

    /// The kept details of the exchange `request_id`, if still kept.
    pub fn detail(&self, request_id: &str) -> Option<ExchangeDetail> {
        self.lock()
            .iter()
            .rev()
            .find(|detail| detail.request_id == request_id)
            .cloned()
    }

    /// Forgets every kept detail (whether someone watches stays).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<ExchangeDetail>> {
        self.details
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Headers (name, raw value) as the live view keeps them, values masked.
pub fn header_lines<'a>(headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<HeaderLine> {
    headers
        .into_iter()
        .map(|(name, value)| HeaderLine {
            name: name.to_owned(),
            value: header_value(name, &String::from_utf8_lossy(value)),
        })
        .collect()
}

/// Form fields and JSON keys whose values are always masked.
pub const SECRET_NAMES: &[&str] = &[
    "password",
    "csrf_token",
    "code",
    "code_verifier",
    "code_challenge",
    "access_token",
    "refresh_token",
    "token",
    "client_secret",
    "personal_api_key",
    "state",
    "api_key",
    "secret",
];

/// A header's value as the live view keeps it.
pub fn header_value(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" | "stripe-signature" | "x-api-key" => {
            match value.split_once(' ') {
                Some((scheme, credential)) => format!("{scheme} {}", mask(credential.trim())),
                None => mask(value),
            }
        }
        "cookie" => value
            .split(';')
            .map(|pair| match pair.trim().split_once('=') {
                Some((cookie, _)) => format!("{cookie}=***"),
                None => "***".to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        "set-cookie" => {
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let cookie = pair.split_once('=').map_or(pair, |(cookie, _)| cookie);
            match attributes.is_empty() {
                true => format!("{cookie}=***"),
                false => format!("{cookie}=***;{attributes}"),
            }
        }
        _ => text(value),
    }
}

/// A body as the live view keeps it: its first [`BODY_EXCERPT`] bytes,
/// fields and keys holding secrets masked by name, then [`text`].
pub fn body(content_type: Option<&str>, bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(BODY_EXCERPT)];
    let raw = String::from_utf8_lossy(cut);
    let kind = content_type.unwrap_or_default().to_ascii_lowercase();
    let named = if kind.starts_with("application/x-www-form-urlencoded") {
        form(&raw)
    } else if kind.starts_with("application/json") {
        json(&raw)
    } else {
        None
    };
    let mut kept = text(&named.unwrap_or_else(|| raw.into_owned()));
    if bytes.len() > BODY_EXCERPT {
        kept.push_str(&format!("\n… ({} bytes in all)", bytes.len()));
    }
    kept
}

/// Every full credential and every long URL-safe run masked.
pub fn text(text: &str) -> String {
    mask_runs(redact_secrets(text), |run| {
        run.len() >= 32 && !is_uuid(run) && !run.starts_with("phc_")
    })
}

fn form(raw: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).ok()?;
    let masked: Vec<(String, String)> = pairs
        .into_iter()
        .map(
            |(name, value)| match SECRET_NAMES.contains(&name.as_str()) {
                true => (name, mask(&value)),
                false => (name, value),
            },
        )
        .collect();
    serde_urlencoded::to_string(masked).ok()
}

fn json(raw: &str) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(raw).ok()?;
    mask_keys(&mut value);
    serde_json::to_string_pretty(&value).ok()
}

fn mask_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                match (SECRET_NAMES.contains(&key.as_str()), inner.as_str()) {
                    (true, Some(secret)) => *inner = serde_json::Value::String(mask(secret)),
                    _ => mask_keys(inner),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_keys),
        _ => {}
    }
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(run: &str) -> bool {
    let groups: Vec<&str> = run.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, length)| {
            group.len() == length && group.bytes().all(|byte| byte.is_ascii_hexdigit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails, the live view shows a password, a code, a verifier,
    /// a session id or a credential in full.
    #[test]
    fn secrets_are_masked_wherever_they_stand() {
        // A code with neither digits nor upper case: the journal's shape
        // rule would let it through, this one does not.
        let code = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq";
        let location = format!("http://localhost:1/callback?code={code}&state=s");
        for (name, value, expected) in [
            (
                "Authorization",
                "Bearer pha_0123456789abcdefABCDEF0123",
                "Bearer pha_***",
            ),
            (
                "authorization",
                "Basic bGxtLWdhdGV3YXk6c2VjcmV0",
                "Basic bGxt***",
            ),
            (
                "cookie",
                "posthog_session=abc; posthog_form=def",
                "posthog_session=***; posthog_form=***",
            ),
            (
                "set-cookie",
                "posthog_session=abc; Path=/; HttpOnly",
                "posthog_session=***; Path=/; HttpOnly",
            ),
            (
                "location",
                location.as_str(),
                "http://localhost:1/callback?code=abcd***&state=s",
            ),
            (
                "x-request-id",
                "5a2f2251-2ece-4ffa-b7ae-48ff72cf53f9",
                "5a2f2251-2ece-4ffa-b7ae-48ff72cf53f9",
            ),
        ] {
            assert_eq!(header_value(name, value), expected, "{name}");
        }
        let form_body = body(
            Some("application/x-www-form-urlencoded"),
            b"step=sign_in&email=a%40b.c&password=hunter2&csrf_token=xyz&code_verifier=v",
        );
        assert_eq!(
            form_body,
            "step=sign_in&email=a%40b.c&password=hunt***&csrf_token=***&code_verifier=***"
        );
        let json_body = body(
            Some("application/json"),
            br#"{"oauth":{"code":"short"},"access_token":"pha_0123456789abcdefABCDEF0123","id":"5a2f2251-2ece-4ffa-b7ae-48ff72cf53f9","host":"phc_0123456789abcdefABCDEF0123456789"}"#,
        );
        assert!(json_body.contains("\"code\": \"shor***\""), "{json_body}");
        assert!(
            json_body.contains("\"access_token\": \"pha_***\""),
            "{json_body}"
        );
        assert!(
            json_body.contains("5a2f2251-2ece-4ffa-b7ae-48ff72cf53f9"),
            "{json_body}"
        );
        assert!(
            json_body.contains("phc_0123456789abcdefABCDEF0123456789"),
            "{json_body}"
        );
        let page = body(
            Some("text/html"),
            format!("<code id=\"authorization-code\">{code}</code>").as_bytes(),
        );
        assert_eq!(page, "<code id=\"authorization-code\">abcd***</code>");
        let long = body(Some("text/plain"), &[b'a'; BODY_EXCERPT + 10]);
        assert!(
            long.ends_with(&format!("({} bytes in all)", BODY_EXCERPT + 10)),
            "{long}"
        );
        let lines = header_lines([("x-api-key", b"phx_0123456789abcdefABCDEF0123".as_slice())]);
        assert_eq!(lines[0].value, "phx_***");
    }

    /// If this fails, a secret one character past a boundary of the
    /// masking (the run length, the excerpt, a UUID's shape, an array in a
    /// JSON body, a cookie without a value) is shown in full, or harmless
    /// text is masked.
    #[test]
    fn masking_holds_at_its_boundaries() {
        let short_run = "a".repeat(31);
        let long_run = "b".repeat(32);
        let exact = [b'.'; BODY_EXCERPT];
        let over = [b'.'; BODY_EXCERPT + 1];
        let dots = ".".repeat(BODY_EXCERPT);
        let cases: Vec<(&str, String, String)> = vec![
            ("a run of 31 is kept", text(&short_run), short_run.clone()),
            (
                "a run of 32 is masked",
                text(&long_run),
                "bbbb***".to_owned(),
            ),
            (
                "a UUID's shape with letters past f is masked",
                text("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"),
                "zzzz***".to_owned(),
            ),
            (
                "five hexadecimal groups of other lengths are masked",
                text("0123456789ab-0123-0123-0123-0123456789ab"),
                "0123***".to_owned(),
            ),
            (
                "a body of exactly the excerpt is kept whole",
                body(Some("text/plain"), &exact),
                dots.clone(),
            ),
            (
                "one byte more is cut and counted",
                body(Some("text/plain"), &over),
                format!("{dots}\n… ({} bytes in all)", BODY_EXCERPT + 1),
            ),
            (
                "secret keys inside JSON arrays are masked",
                body(
                    Some("application/json"),
                    br#"[{"token":"short-one"},{"name":"kept"}]"#,
                ),
                "[\n  {\n    \"token\": \"shor***\"\n  },\n  {\n    \"name\": \"kept\"\n  }\n]"
                    .to_owned(),
            ),
            (
                "a cookie without a value is masked whole",
                header_value("Cookie", "flag; a=b"),
                "***; a=***".to_owned(),
            ),
            (
                "a set-cookie without attributes keeps only its name",
                header_value("Set-Cookie", "posthog_form=nonce"),
                "posthog_form=***".to_owned(),
            ),
        ];
        for (what, got, expected) in cases {
            assert_eq!(got, expected, "{what}");
        }
    }

    /// If this fails, the live view's memory grows with every request.
    #[test]
    fn details_are_kept_newest_last_within_the_cap() {
        let kept = KeptDetails::default();
        assert!(!kept.watched());
        kept.watch();
        assert!(kept.watched());
        let detail = |id: usize| ExchangeDetail {
            request_id: id.to_string(),
            request_headers: Vec::new(),
            request_body: String::new(),
            response_headers: Vec::new(),
            response_body: String::new(),
        };
        for id in 0..=KEPT_DETAILS {
            kept.keep(detail(id));
        }
        assert!(kept.detail("0").is_none());
        assert_eq!(kept.detail("1"), Some(detail(1)));
        assert_eq!(
            kept.detail(&KEPT_DETAILS.to_string()),
            Some(detail(KEPT_DETAILS))
        );
        let newer = ExchangeDetail {
            response_body: "newer".to_owned(),
            ..detail(1)
        };
        kept.keep(newer.clone());
        assert_eq!(kept.detail("1"), Some(newer), "the newest of one id wins");
        kept.clear();
        assert!(kept.detail("1").is_none());
        assert!(kept.watched());
    }
}
