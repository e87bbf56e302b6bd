//! The `[[steps]]` of a scenario: raw HTTP requests (signed or not), clock
//! advances and gateway messages, run in order after the services start
//! (and after the `[wizard]`, when the scenario has one).
//!
//! Each step is a table with a `kind`:
//!
//! ```toml
//! [[steps]]
//! kind = "http"                       # or "advance_clock", "gateway_message",
//!                                     # "browser_open", "browser_submit", "browser_follow"
//!                                     # (see crate::browser_step), "wizard",
//!                                     # "wizard_output", "wizard_wait" (crate::wizard_step),
//!                                     # "restart_server" (below)
//! label = "exchange the code"         # shown in every mismatch
//! method = "POST"
//! target = "server"                   # or "gateway"; default "server"
//! path = "/api/agentic/oauth/token"
//! form = { grant_type = "authorization_code", code = "{saved.code}" }
//! sign = { secret = "whsec_test_new_fake", at = "now-301", tamper = true }
//! expect = { status = 200, json_present = ["/access_token"] }
//! save = { access_token = "/access_token" }
//! ```
//!
//! Values saved by `save` (and the verifier of a `pkce = true` step named
//! `N`, as `{saved.N.verifier}`) are substituted as `{saved.<name>}` in
//! later paths, headers, bodies, forms and credentials, beside the
//! scenario's `{email}`, `{server}` and `{gateway}`. The checks themselves
//! live in [`crate::step_expect`] and the requests in [`crate::http_step`].
//!
//! A `restart_server` step crashes the provisioning server (SIGKILL of its
//! process group) and starts it again on the same port, with the same
//! database file, profile, seed and admin token
//! ([`crate::server_control`]):
//!
//! ```toml
//! [[steps]]
//! kind = "restart_server"
//! label = "crash the server mid-conversation"
//! after = { path = "/oauth/introspect", count = 1 }  # optional: first wait until the
//!                                     # server's journal holds `count` entries on `path`
//!                                     # (at most `timeout_seconds`, default 10)
//! after_gateway_holds = 1             # optional: first wait until the gateway holds this
//!                                     # many requests (its `hold` fault; `GET /_admin/held`)
//! release_gateway = true              # after the kill, release the held requests
//! down_ms = 400                       # how long it stays down; default 0, at most 5000
//! up_when = { gateway_verdict = "introspection_unavailable", count = 1 }
//!                                     # or: stay down until the gateway's journal holds
//!                                     # `count` entries with that verdict (a readiness
//!                                     # signal instead of a time; not with down_ms)
//! ```
//!
//! The journal of the killed process is read just before the kill; the
//! scenario's checks and transcript see every process's entries, in order.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::Deserialize;

/// One step of `[[steps]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    Http(Box<HttpStep>),
    AdvanceClock(AdvanceClockStep),
    GatewayMessage(Box<GatewayMessageStep>),
    /// The browser steps of the interactive login ([`crate::browser_step`]).
    BrowserOpen(Box<crate::browser_step::BrowserOpenStep>),
    BrowserSubmit(Box<crate::browser_step::BrowserSubmitStep>),
    BrowserFollow(Box<crate::browser_step::BrowserFollowStep>),
    /// Wizard runs among the steps ([`crate::wizard_step`]).
    Wizard(Box<crate::wizard_step::WizardStep>),
    WizardOutput(Box<crate::wizard_step::WizardOutputStep>),
    WizardWait(Box<crate::wizard_step::WizardWaitStep>),
    /// Crash the provisioning server and start it again on the same port
    /// and database ([`crate::server_control`]).
    RestartServer(RestartServerStep),
}

/// The longest `down_ms` of a `restart_server` step.
pub const MAX_DOWN_MS: u64 = 5_000;

/// The longest `after.timeout_seconds` of a `restart_server` step.
pub const MAX_AFTER_SECONDS: u64 = 60;

/// `kind = "restart_server"`: SIGKILL the provisioning server, keep it
/// down `down_ms`, start it again on the same address and database.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartServerStep {
    #[serde(default)]
    pub label: Option<String>,
    /// Milliseconds between the kill and the new start (at most
    /// [`MAX_DOWN_MS`]).
    #[serde(default)]
    pub down_ms: u64,
    /// Wait for this much traffic on the server before the kill, so the
    /// crash lands at a known point of a background wizard's run.
    #[serde(default)]
    pub after: Option<JournalWait>,
    /// Wait until the gateway holds this many requests (its `hold` fault)
    /// before the kill: the wizard is then mid-conversation, waiting.
    #[serde(default)]
    pub after_gateway_holds: Option<u32>,
    /// Release the gateway's held requests right after the kill.
    #[serde(default)]
    pub release_gateway: bool,
    /// Stay down until the gateway has answered this verdict this often
    /// (the wizard has met the outage), rather than for `down_ms`.
    #[serde(default)]
    pub up_when: Option<VerdictWait>,
}

/// Waits until the gateway's journal holds `count` entries with `verdict`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictWait {
    pub gateway_verdict: String,
    #[serde(default = "default_count")]
    pub count: usize,
    #[serde(default = "default_after_seconds")]
    pub timeout_seconds: u64,
}

/// Waits until the server's journal holds `count` entries on `path`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalWait {
    /// A request path as journaled (no query), e.g. `/oauth/introspect`.
    pub path: String,
    #[serde(default = "default_count")]
    pub count: usize,
    #[serde(default = "default_after_seconds")]
    pub timeout_seconds: u64,
}

impl RestartServerStep {
    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            let mut label = "restart the server".to_owned();
            if let Some(after) = &self.after {
                label.push_str(&format!(" after {} × {}", after.count, after.path));
            }
            if let Some(held) = self.after_gateway_holds {
                label.push_str(&format!(" once the gateway holds {held}"));
            }
            match &self.up_when {
                Some(up) => label.push_str(&format!(
                    ", down until {} × {}",
                    up.count, up.gateway_verdict
                )),
                None => label.push_str(&format!(", down {} ms", self.down_ms)),
            }
            label
        })
    }

    pub fn validate(&self) -> Result<()> {
        if self.down_ms > MAX_DOWN_MS {
            bail!(
                "down_ms = {} is more than the {MAX_DOWN_MS} ms a restart may take",
                self.down_ms
            );
        }
        if let Some(after) = &self.after {
            if !after.path.starts_with('/') || after.path.contains('?') {
                bail!(
                    "after.path {:?} must be a request path starting with `/`, without a query",
                    after.path
                );
            }
            if after.count == 0 {
                bail!("after.count must be at least 1");
            }
            if after.timeout_seconds == 0 || after.timeout_seconds > MAX_AFTER_SECONDS {
                bail!("after.timeout_seconds must be between 1 and {MAX_AFTER_SECONDS}");
            }
        }
        if self.after_gateway_holds == Some(0) {
            bail!("after_gateway_holds must be at least 1");
        }
        if let Some(up) = &self.up_when {
            if self.down_ms != 0 {
                bail!("up_when and down_ms exclude each other: the server comes back on a signal or after a time");
            }
            if up.gateway_verdict.trim().is_empty() || up.count == 0 {
                bail!("up_when needs a gateway_verdict and a count of at least 1");
            }
            if up.timeout_seconds == 0 || up.timeout_seconds > MAX_AFTER_SECONDS {
                bail!("up_when.timeout_seconds must be between 1 and {MAX_AFTER_SECONDS}");
            }
        }
        Ok(())
    }
}

fn default_count() -> usize {
    1
}

fn default_after_seconds() -> u64 {
    10
}

/// Which service a request goes to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    #[default]
    Server,
    Gateway,
}

/// A raw HTTP request and what its answer must hold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// Shown in mismatches; default `METHOD path`.
    #[serde(default)]
    pub label: Option<String>,
    /// A short identifier; needed by `pkce = true` (the verifier is saved
    /// as `{saved.<name>.verifier}`).
    #[serde(default)]
    pub name: Option<String>,
    pub method: String,
    #[serde(default)]
    pub target: Target,
    /// Starts with `/`; takes placeholders. May also be a saved absolute
    /// URL on the same service (`{saved.url}`, e.g. a deep link).
    pub path: String,
    /// Extra headers (values take placeholders). They replace the
    /// harness's own, so `"API-Version" = "0.2"` sends a wrong version.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (an inline TOML table), sent as `application/json`.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// A form body, sent as `application/x-www-form-urlencoded`.
    #[serde(default)]
    pub form: Option<BTreeMap<String, String>>,
    /// A body sent byte for byte, with `content_type`.
    #[serde(default)]
    pub raw: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// Adds `API-Version: 0.1d`; default: when the path starts with
    /// `/api/agentic/`.
    #[serde(default)]
    pub api_version: Option<bool>,
    /// `Authorization: Bearer <value>` (placeholders replaced).
    #[serde(default)]
    pub bearer: Option<String>,
    /// `Authorization: Basic` (RFC 7617), e.g. for introspection.
    #[serde(default)]
    pub basic: Option<BasicAuth>,
    /// A `Stripe-Signature` over the exact bytes sent.
    #[serde(default)]
    pub sign: Option<Signing>,
    /// Adds a fresh S256 `code_challenge` and `code_challenge_method` to
    /// the JSON body and saves the verifier as `{saved.<name>.verifier}`.
    #[serde(default)]
    pub pkce: bool,
    #[serde(default)]
    pub expect: HttpExpect,
    /// Saved name → JSON pointer into the answer.
    #[serde(default)]
    pub save: BTreeMap<String, String>,
}

/// HTTP Basic credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub user: String,
    pub password: String,
}

/// How a request is signed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// The partner's signing secret (`whsec_…`).
    pub secret: String,
    /// `now`, `now-301`, `now+301`: the server's clock, offset in seconds.
    #[serde(default = "default_at")]
    pub at: String,
    /// Sign the body, then send a different one.
    #[serde(default)]
    pub tamper: bool,
    /// More secrets, each adding a `v1=` before the main one's, as a
    /// sender does during a secret rotation.
    #[serde(default)]
    pub also: Vec<String>,
}

/// What the answer of an HTTP step must hold. Only what is written is
/// checked.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    pub status: Option<u16>,
    /// Statuses the answer must not have (e.g. `[404]`: the route exists).
    #[serde(default)]
    pub status_not: Vec<u16>,
    /// JSON pointer → expected value (`""` is the whole body). Strings
    /// take placeholders.
    #[serde(default)]
    pub json: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub json_present: Vec<String>,
    #[serde(default)]
    pub json_absent: Vec<String>,
    /// JSON pointer → a value that must not be there (the key must be
    /// present, with another value). Strings take placeholders.
    #[serde(default)]
    pub json_not: BTreeMap<String, serde_json::Value>,
    /// Header names that must be present (case-insensitive).
    #[serde(default)]
    pub header_present: Vec<String>,
    /// Header name → exact value (takes placeholders, as do
    /// `header_contains` and `body_contains`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Header name → a substring of its value.
    #[serde(default)]
    pub header_contains: BTreeMap<String, String>,
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// Substrings the body must not contain (take placeholders).
    #[serde(default)]
    pub body_lacks: Vec<String>,
}

/// `POST /_admin/clock {"advance_seconds": seconds}` on the server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClockStep {
    #[serde(default)]
    pub label: Option<String>,
    pub seconds: i64,
}

/// A minimal `POST /wizard/v1/messages` to the gateway with a credential.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayMessageStep {
    #[serde(default)]
    pub label: Option<String>,
    /// Sent as `x-api-key`.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Sent as `Authorization: Bearer`.
    #[serde(default)]
    pub bearer: Option<String>,
    /// The framework line of the user message (default `next-js`).
    #[serde(default = "default_framework")]
    pub framework: String,
    #[serde(default)]
    pub expect: HttpExpect,
    #[serde(default)]
    pub save: BTreeMap<String, String>,
}

/// Where the signature's `t` sits relative to the server's clock.
pub fn parse_at(at: &str) -> Result<i64> {
    let Some(rest) = at.strip_prefix("now") else {
        bail!("sign.at {at:?} must be `now`, `now-N` or `now+N`");
    };
    if rest.is_empty() {
        return Ok(0);
    }
    let (sign, digits) = rest.split_at(1);
    let seconds: i64 = match digits.parse() {
        Ok(seconds) if !digits.starts_with('+') && !digits.starts_with('-') => seconds,
        _ => bail!("sign.at {at:?} must be `now`, `now-N` or `now+N`"),
    };
    match sign {
        "+" => Ok(seconds),
        "-" => Ok(-seconds),
        _ => bail!("sign.at {at:?} must be `now`, `now-N` or `now+N`"),
    }
}

impl Step {
    /// The name a person reads in `step 3 (<label>)`.
    pub fn label(&self) -> String {
        match self {
            Step::Http(step) => step
                .label
                .clone()
                .or_else(|| step.name.clone())
                .unwrap_or_else(|| format!("{} {}", step.method, step.path)),
            Step::AdvanceClock(step) => step
                .label
                .clone()
                .unwrap_or_else(|| format!("advance the clock {} s", step.seconds)),
            Step::GatewayMessage(step) => step
                .label
                .clone()
                .unwrap_or_else(|| "gateway message".to_owned()),
            Step::BrowserOpen(step) => step.label(),
            Step::BrowserSubmit(step) => step
                .label
                .clone()
                .unwrap_or_else(|| format!("submit {}", step.form.as_deref().unwrap_or("form"))),
            Step::BrowserFollow(step) => step
                .label
                .clone()
                .unwrap_or_else(|| "follow redirects".to_owned()),
            Step::Wizard(step) => step.label(),
            Step::WizardOutput(step) => step.label(),
            Step::WizardWait(step) => step.label(),
            Step::RestartServer(step) => step.label(),
        }
    }

    /// Checks what serde cannot: one body at most, a known method, a
    /// parsable `sign.at`, a name for `pkce`, pointers that are pointers.
    pub fn validate(&self) -> Result<()> {
        match self {
            Step::Http(step) => step.validate(),
            Step::AdvanceClock(_) => Ok(()),
            Step::GatewayMessage(step) => {
                if step.api_key.is_some() && step.bearer.is_some() {
                    bail!("give `api_key` or `bearer`, not both");
                }
                validate_pointers(&step.expect, &step.save)
            }
            Step::BrowserOpen(step) => step.validate(),
            Step::BrowserSubmit(_) => Ok(()),
            Step::BrowserFollow(step) => step.validate(),
            Step::Wizard(step) => step.validate(),
            Step::WizardOutput(step) => step.validate(),
            Step::WizardWait(_) => Ok(()),
            Step::RestartServer(step) => step.validate(),
        }
    }
}

impl HttpStep {
    fn validate(&self) -> Result<()> {
        if reqwest::Method::from_bytes(self.method.as_bytes()).is_err()
            || self.method != self.method.to_ascii_uppercase()
        {
            bail!("method {:?} is not an upper-case HTTP method", self.method);
        }
        if !self.path.starts_with('/') && !self.path.starts_with("{saved.") {
            bail!(
                "path {:?} must start with `/` (or be a saved URL on the same service)",
                self.path
            );
        }
        let bodies = [self.json.is_some(), self.form.is_some(), self.raw.is_some()];
        if bodies.iter().filter(|given| **given).count() > 1 {
            bail!("give at most one body: `json`, `form` or `raw`");
        }
        if self.content_type.is_some() && self.raw.is_none() {
            bail!("`content_type` goes with a `raw` body");
        }
        if self.bearer.is_some() && self.basic.is_some() {
            bail!("give `bearer` or `basic`, not both");
        }
        if let Some(sign) = &self.sign {
            parse_at(&sign.at)?;
        }
        if self.pkce {
            match (&self.name, &self.json) {
                (None, _) => bail!("`pkce = true` needs a `name` (the verifier is saved as {{saved.<name>.verifier}})"),
                (Some(_), Some(serde_json::Value::Object(_))) => {}
                (Some(_), _) => bail!("`pkce = true` needs a `json` table body"),
            }
        }
        validate_pointers(&self.expect, &self.save)
    }

    /// Whether `API-Version: 0.1d` is sent: by default to the agentic
    /// endpoints and their `/api/provisioning/…` aliases.
    pub fn sends_api_version(&self) -> bool {
        self.api_version.unwrap_or_else(|| {
            self.path.starts_with("/api/agentic/") || self.path.starts_with("/api/provisioning/")
        })
    }
}

fn validate_pointers(expect: &HttpExpect, save: &BTreeMap<String, String>) -> Result<()> {
    let pointers = expect
        .json
        .keys()
        .chain(&expect.json_present)
        .chain(&expect.json_absent)
        .chain(expect.json_not.keys())
        .chain(save.values());
    for pointer in pointers {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            bail!("{pointer:?} is not a JSON pointer (it starts with `/`, or is empty for the whole body)");
        }
    }
    for name in save.keys() {
        if name.is_empty() || name.contains(['{', '}']) {
            bail!("save name {name:?} must be plain (no braces)");
        }
    }
    Ok(())
}

fn default_at() -> String {
    "now".to_owned()
}

fn default_framework() -> String {
    "next-js".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Steps {
        steps: Vec<Step>,
    }

    fn parse(text: &str) -> Result<Vec<Step>> {
        let steps: Steps = toml::from_str(text)?;
        for step in &steps.steps {
            step.validate()?;
        }
        Ok(steps.steps)
    }

    #[test]
    fn each_kind_parses() {
        let steps = parse(
            r#"
[[steps]]
kind = "http"
name = "signup"
method = "POST"
path = "/api/agentic/provisioning/account_requests"
json = { email = "{email}", scopes = ["user:read"], configuration = { region = "US" } }
pkce = true
sign = { secret = "whsec_x", at = "now-301", tamper = true }
expect = { status = 200, json = { "/type" = "oauth", "" = { a = 1 } }, json_present = ["/oauth/code"], json_absent = ["/next_cursor"], headers = { "cache-control" = "no-store" }, header_present = ["x-request-id"], body_contains = ["oauth"] }
save = { code = "/oauth/code" }

[[steps]]
kind = "http"
method = "POST"
target = "server"
path = "/oauth/introspect"
form = { token = "{saved.access_token}" }
basic = { user = "llm-gateway", password = "llm-gateway-dev-secret" }

[[steps]]
kind = "http"
method = "POST"
path = "/api/agentic/provisioning/account_requests"
raw = "not json"
content_type = "text/plain"
api_version = false
headers = { "API-Version" = "0.2" }

[[steps]]
kind = "advance_clock"
seconds = 301

[[steps]]
kind = "gateway_message"
api_key = "{saved.pat}"
expect = { status = 401, header_contains = { "www-authenticate" = "insufficient_scope" } }
"#,
        )
        .unwrap();
        assert_eq!(steps.len(), 5);
        let Step::Http(signup) = &steps[0] else {
            panic!("{:?}", steps[0])
        };
        assert!(signup.pkce);
        assert_eq!(signup.target, Target::Server);
        assert!(signup.sends_api_version());
        assert_eq!(signup.sign.as_ref().unwrap().at, "now-301");
        assert_eq!(signup.expect.status, Some(200));
        assert_eq!(signup.expect.json["/type"], serde_json::json!("oauth"));
        assert_eq!(signup.expect.json[""], serde_json::json!({"a": 1}));
        assert_eq!(signup.save["code"], "/oauth/code");
        assert_eq!(
            signup.json.as_ref().unwrap()["scopes"],
            serde_json::json!(["user:read"])
        );
        assert_eq!(steps[0].label(), "signup");
        let Step::Http(introspect) = &steps[1] else {
            panic!()
        };
        assert!(!introspect.sends_api_version());
        assert_eq!(introspect.basic.as_ref().unwrap().user, "llm-gateway");
        assert_eq!(steps[1].label(), "POST /oauth/introspect");
        let Step::Http(raw) = &steps[2] else { panic!() };
        assert!(!raw.sends_api_version());
        assert_eq!(raw.headers["API-Version"], "0.2");
        assert_eq!(
            steps[3],
            Step::AdvanceClock(AdvanceClockStep {
                label: None,
                seconds: 301
            })
        );
        let Step::GatewayMessage(message) = &steps[4] else {
            panic!()
        };
        assert_eq!(message.framework, "next-js");
        assert_eq!(
            message.expect.header_contains["www-authenticate"],
            "insufficient_scope"
        );
    }

    #[test]
    fn unknown_keys_and_bad_steps_are_refused_naming_the_problem() {
        let http = "[[steps]]\nkind = \"http\"\nmethod = \"GET\"\npath = \"/x\"\n";
        let cases = [
            (format!("{http}methd = \"GET\"\n"), "methd"),
            (format!("{http}expect = {{ staus = 200 }}\n"), "staus"),
            (
                format!("{http}sign = {{ secret = \"s\", tamper = true, when = \"now\" }}\n"),
                "when",
            ),
            (
                format!("{http}basic = {{ user = \"u\", pass = \"p\" }}\n"),
                "pass",
            ),
            (
                "[[steps]]\nkind = \"advance_clock\"\nsecs = 3\n".to_owned(),
                "secs",
            ),
            (
                "[[steps]]\nkind = \"gateway_message\"\nkey = \"x\"\n".to_owned(),
                "key",
            ),
            ("[[steps]]\nkind = \"browser\"\n".to_owned(), "browser"),
            (
                format!("{http}json = {{ a = 1 }}\nform = {{ b = \"2\" }}\n"),
                "at most one body",
            ),
            (
                format!("{http}sign = {{ secret = \"s\", at = \"later\" }}\n"),
                "later",
            ),
            (
                format!("{http}sign = {{ secret = \"s\", at = \"now+-3\" }}\n"),
                "now+-3",
            ),
            (
                format!("{http}pkce = true\njson = {{ a = 1 }}\n"),
                "needs a `name`",
            ),
            (format!("{http}name = \"n\"\npkce = true\n"), "`json` table"),
            (
                format!("{http}save = {{ code = \"oauth/code\" }}\n"),
                "oauth/code",
            ),
            (format!("{http}content_type = \"text/plain\"\n"), "raw"),
            (
                "[[steps]]\nkind = \"http\"\nmethod = \"get\"\npath = \"/x\"\n".to_owned(),
                "get",
            ),
            (
                "[[steps]]\nkind = \"http\"\nmethod = \"GET\"\npath = \"x\"\n".to_owned(),
                "start with",
            ),
        ];
        for (text, needle) in cases {
            let message = format!("{:#}", parse(&text).expect_err(needle));
            assert!(message.contains(needle), "{needle}: {message}");
        }
    }

    #[test]
    fn restart_server_parses_with_defaults_and_bounds() {
        let steps = parse(
            "[[steps]]\nkind = \"restart_server\"\n\n[[steps]]\nkind = \"restart_server\"\nlabel = \"crash\"\ndown_ms = 200\nafter = { path = \"/oauth/introspect\", count = 2, timeout_seconds = 5 }\n\n[[steps]]\nkind = \"restart_server\"\nafter = { path = \"/x\" }\n",
        )
        .unwrap();
        assert_eq!(
            steps[0],
            Step::RestartServer(RestartServerStep {
                label: None,
                down_ms: 0,
                after: None,
                after_gateway_holds: None,
                release_gateway: false,
                up_when: None,
            })
        );
        assert_eq!(steps[0].label(), "restart the server, down 0 ms");
        let Step::RestartServer(crash) = &steps[1] else {
            panic!("{:?}", steps[1])
        };
        assert_eq!(crash.down_ms, 200);
        assert_eq!(
            crash.after,
            Some(JournalWait {
                path: "/oauth/introspect".to_owned(),
                count: 2,
                timeout_seconds: 5,
            })
        );
        assert_eq!(steps[1].label(), "crash");
        let Step::RestartServer(defaults) = &steps[2] else {
            panic!("{:?}", steps[2])
        };
        let after = defaults.after.as_ref().unwrap();
        assert_eq!((after.count, after.timeout_seconds), (1, 10));
        assert_eq!(
            steps[2].label(),
            "restart the server after 1 × /x, down 0 ms"
        );
        assert!(parse("[[steps]]\nkind = \"restart_server\"\ndown_ms = 5000\n").is_ok());
        let signalled = parse(
            "[[steps]]\nkind = \"restart_server\"\nafter_gateway_holds = 1\nrelease_gateway = true\nup_when = { gateway_verdict = \"introspection_unavailable\", count = 4 }\n",
        )
        .unwrap();
        assert_eq!(
            signalled[0].label(),
            "restart the server once the gateway holds 1, down until 4 × introspection_unavailable"
        );
    }

    #[test]
    fn restart_server_refuses_bad_values_naming_them() {
        let step = "[[steps]]\nkind = \"restart_server\"\n";
        let cases = [
            (format!("{step}down_ms = 5001\n"), "5001"),
            (format!("{step}down_ms = -1\n"), "`-1`"),
            (format!("{step}down = 1\n"), "down"),
            (
                format!("{step}after = {{ path = \"oauth\" }}\n"),
                "\"oauth\"",
            ),
            (
                format!("{step}after = {{ path = \"/a?b=1\" }}\n"),
                "without a query",
            ),
            (
                format!("{step}after = {{ path = \"/a\", count = 0 }}\n"),
                "after.count",
            ),
            (
                format!("{step}after = {{ path = \"/a\", timeout_seconds = 0 }}\n"),
                "timeout_seconds",
            ),
            (
                format!("{step}after = {{ path = \"/a\", timeout_seconds = 61 }}\n"),
                "timeout_seconds",
            ),
            (
                format!("{step}after = {{ path = \"/a\", cnt = 1 }}\n"),
                "cnt",
            ),
            (format!("{step}after = {{ count = 1 }}\n"), "path"),
            (
                format!("{step}after_gateway_holds = 0\n"),
                "after_gateway_holds",
            ),
            (
                format!("{step}down_ms = 10\nup_when = {{ gateway_verdict = \"x\" }}\n"),
                "exclude each other",
            ),
            (
                format!("{step}up_when = {{ gateway_verdict = \"x\", count = 0 }}\n"),
                "count of at least 1",
            ),
            (
                format!("{step}up_when = {{ gateway_verdict = \"x\", timeout_seconds = 61 }}\n"),
                "up_when.timeout_seconds",
            ),
        ];
        for (text, needle) in cases {
            let message = format!("{:#}", parse(&text).expect_err(needle));
            assert!(message.contains(needle), "{needle}: {message}");
        }
    }

    #[test]
    fn sign_at_table() {
        for (at, offset) in [("now", 0), ("now-301", -301), ("now+301", 301)] {
            assert_eq!(parse_at(at).unwrap(), offset, "{at}");
        }
        for bad in ["", "then", "now-", "now*3", "now+x", "now--3"] {
            assert!(parse_at(bad).is_err(), "{bad}");
        }
    }
}
