//! The simulator's own admin routes (protocol section 10). Not part of the
//! real system; they exist so scenarios can read state and move the clock.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A server's or gateway's journal keeps at most this many entries, the
/// oldest dropped first, so a long-running program's memory stays bounded.
pub const JOURNAL_CAPACITY: usize = 10_000;

/// One request as the server or gateway saw it. Credentials appear only
/// masked (`phx_***`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JournalEntry {
    /// Unix seconds on the program's (possibly advanced) clock.
    pub at: i64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The credential kind's prefix and mask, such as `pha_***`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// What the program decided, such as `granted`, `insufficient_scope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// A short machine-readable reason for an error answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /_admin/live/exchanges`: the newest exchanges of the server and of
/// its gateway, for the admin live view (credentials already masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LiveExchanges {
    /// The server's newest entries, oldest first.
    pub server: Vec<JournalEntry>,
    /// The gateway's newest entries, or `None` when its journal could not
    /// be read (`gateway_error` says why).
    pub gateway: Option<Vec<JournalEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_error: Option<String>,
}

/// `GET /_admin/live/exchanges/{request_id}`: one server exchange's
/// headers and bodies, masked, kept only while a viewer watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExchangeDetail {
    pub request_id: String,
    pub request_headers: Vec<HeaderLine>,
    /// The request body as the handler read it (the first 4 KiB), masked;
    /// empty when it read none.
    pub request_body: String,
    pub response_headers: Vec<HeaderLine>,
    /// The answer's body (the first 4 KiB), masked.
    pub response_body: String,
}

/// One header, its value masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeaderLine {
    pub name: String,
    pub value: String,
}

/// `POST /_admin/live/link`: a new one-time link to the live view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LiveLink {
    pub url: String,
}

/// `GET /_admin/journal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Journal {
    pub entries: Vec<JournalEntry>,
}

/// `GET /_admin/clock` and the answer of `POST /_admin/clock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClockAnswer {
    /// Unix seconds.
    pub now: i64,
    /// Seconds the clock has been advanced past the system time.
    pub offset_seconds: i64,
}

/// `POST /_admin/clock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClockAdvance {
    pub advance_seconds: i64,
}

/// `GET /_admin/state`: counts a scenario can assert on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct StateSummary {
    pub users: i64,
    pub organizations: i64,
    pub teams: i64,
    pub authorization_codes: i64,
    pub access_tokens: i64,
    pub refresh_tokens: i64,
    pub personal_api_keys: i64,
    /// Scopes of every personal API key, space separated, oldest first.
    pub personal_api_key_scopes: Vec<String>,
    /// Scopes of every access token, space separated, oldest first.
    pub access_token_scopes: Vec<String>,
}

/// The gateway's injected faults: `GET`/`POST /_admin/faults`, and the
/// `--fault` flags. Strict on input: a misspelt fault is refused, not
/// silently ignored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// Seed of the generator behind `probability` and latency ranges, so a
    /// faulty run can be replayed exactly.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// One fault, on one route, for the next `count` requests and/or with a
/// `probability`. Without either it applies to every matching request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// `messages` (the default) or `readyz`.
    #[serde(default = "default_fault_route")]
    pub route: String,
    pub fault: Fault,
    /// Applies to the next N matching requests, then stops; the remaining
    /// count is what `GET /_admin/faults` shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Lets the first N matching requests through untouched before it
    /// applies (a refusal on the agent's third turn is `after: 2`); the
    /// remaining number is what `GET /_admin/faults` shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u32>,
    /// Applies with this probability, from 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

fn default_fault_route() -> String {
    "messages".into()
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Answer this status instead (429 with `Retry-After`, 500, 529 …) with
    /// Anthropic's error body.
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
    },
    /// Wait this long (a fixed time when min equals max) before answering.
    Latency { min_ms: u64, max_ms: u64 },
    /// Send the headers, then close the connection with no body.
    Drop,
    /// Send half of the body, then close the connection.
    Truncate,
    /// In a streamed answer, stop after half of the events; in a plain
    /// answer, like `truncate`.
    CutStream,
    /// Hold the authenticated request before the agent answers, until
    /// `POST /_admin/release` (at most a minute): a scenario's readiness
    /// signal that the wizard is mid-conversation (`GET /_admin/held`).
    Hold,
}

/// `GET /_admin/held` and `POST /_admin/release`: how many requests the
/// `hold` fault holds now (for release: held when they were released).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Held {
    pub held: u32,
}
