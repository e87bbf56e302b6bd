//! The data of the HTTP steps: `http` (a raw request, signed or not, and
//! what its answer must hold), `gateway_message` (its shorthand for the
//! gateway's messages route) and `advance_clock`.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::Deserialize;

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
    /// Sends the request this many times at once (2 to
    /// [`MAX_COPIES`]), byte for byte the same, as a client retrying on
    /// a short timeout does: every copy's answer must have the first's
    /// status and body, and `expect` and `save` read the first.
    #[serde(default)]
    pub copies: Option<u32>,
    #[serde(default)]
    pub expect: HttpExpect,
    /// Saved name → JSON pointer into the answer.
    #[serde(default)]
    pub save: BTreeMap<String, String>,
}

/// The most copies an HTTP step sends at once.
pub const MAX_COPIES: u32 = 64;

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

impl HttpStep {
    /// Checks what serde cannot: a known method, one body at most, a
    /// parsable `sign.at`, a name for `pkce`, pointers that are pointers.
    pub fn validate(&self) -> Result<()> {
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
        if let Some(copies) = self.copies {
            if !(2..=MAX_COPIES).contains(&copies) {
                bail!("`copies` must be 2 to {MAX_COPIES}, got {copies}");
            }
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

impl GatewayMessageStep {
    /// One credential at most, and pointers that are pointers.
    pub fn validate(&self) -> Result<()> {
        if self.api_key.is_some() && self.bearer.is_some() {
            bail!("give `api_key` or `bearer`, not both");
        }
        validate_pointers(&self.expect, &self.save)
    }
}

/// A name a step saves a value under: plain, so `{saved.<name>}` can
/// name it.
pub fn check_save_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains(['{', '}']) {
        bail!("save name {name:?} must be plain (no braces)");
    }
    Ok(())
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
        check_save_name(name)?;
    }
    Ok(())
}

fn default_at() -> String {
    "now".to_owned()
}

fn default_framework() -> String {
    "next-js".to_owned()
}
