//! The data of a scenario's `[[steps]]`: every step kind's table as
//! parsed from the file, with the checks serde cannot make. This is the
//! lowest layer of the steps: it knows nothing of how a step runs. Above
//! it sit the context every step runs against (`step_context.rs`), one
//! file per step kind that runs it (`http_step.rs`, `browser_step.rs`,
//! `wizard_step.rs`, `server_control.rs`), and the dispatcher
//! (`dispatch.rs`).
//!
//! The steps run in order after the services start (and after the
//! `[wizard]`, when the scenario has one). Each is a table with a `kind`:
//!
//! ```toml
//! [[steps]]
//! kind = "http"                       # or "advance_clock", "gateway_message" (http.rs),
//!                                     # "browser_open", "browser_submit",
//!                                     # "browser_follow" (browser.rs), "wizard",
//!                                     # "wizard_output", "wizard_input",
//!                                     # "wizard_wait" (wizard.rs),
//!                                     # "restart_server" (restart.rs),
//!                                     # "chromium" (chromium.rs)
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
//! scenario's `{email}`, `{server}` and `{gateway}` (see
//! [`crate::placeholders`]). Before the first step the server's one-time
//! link to its admin live view is saved as `{saved.admin_link}`.

use anyhow::Result;
use serde::Deserialize;

pub mod browser;
pub mod chromium;
pub mod http;
pub mod restart;
pub mod wizard;

pub use browser::{BrowserExpect, BrowserFollowStep, BrowserOpenStep, BrowserSubmitStep};
pub use chromium::{needs_chromium, ChromiumAction, ChromiumStep};
pub use http::{
    parse_at, AdvanceClockStep, BasicAuth, GatewayMessageStep, HttpExpect, HttpStep, Signing,
    Target,
};
pub use restart::{JournalWait, RestartServerStep, VerdictWait, MAX_AFTER_SECONDS, MAX_DOWN_MS};
pub use wizard::{
    StepProject, WizardExpect, WizardInputStep, WizardOutputStep, WizardStep, WizardWaitStep,
    DEFAULT_OUTPUT_TIMEOUT,
};

/// One step of `[[steps]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    Http(Box<HttpStep>),
    AdvanceClock(AdvanceClockStep),
    GatewayMessage(Box<GatewayMessageStep>),
    /// The browser steps of the interactive login ([`browser`]).
    BrowserOpen(Box<BrowserOpenStep>),
    BrowserSubmit(Box<BrowserSubmitStep>),
    BrowserFollow(Box<BrowserFollowStep>),
    /// Wizard runs among the steps ([`wizard`]).
    Wizard(Box<WizardStep>),
    WizardOutput(Box<WizardOutputStep>),
    WizardInput(Box<WizardInputStep>),
    WizardWait(Box<WizardWaitStep>),
    /// Crash the provisioning server and start it again on the same port
    /// and database ([`restart`]).
    RestartServer(RestartServerStep),
    /// A real browser: headless Chromium over WebDriver ([`chromium`]).
    Chromium(Box<ChromiumStep>),
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
            Step::WizardInput(step) => step.label(),
            Step::WizardWait(step) => step.label(),
            Step::RestartServer(step) => step.label(),
            Step::Chromium(step) => step.label(),
        }
    }

    /// Checks what serde cannot: one body at most, a known method, a
    /// parsable `sign.at`, a name for `pkce`, pointers that are pointers.
    pub fn validate(&self) -> Result<()> {
        match self {
            Step::Http(step) => step.validate(),
            Step::AdvanceClock(_) => Ok(()),
            Step::GatewayMessage(step) => step.validate(),
            Step::BrowserOpen(step) => step.validate(),
            Step::BrowserSubmit(_) => Ok(()),
            Step::BrowserFollow(step) => step.validate(),
            Step::Wizard(step) => step.validate(),
            Step::WizardOutput(step) => step.validate(),
            Step::WizardInput(_) | Step::WizardWait(_) => Ok(()),
            Step::RestartServer(step) => step.validate(),
            Step::Chromium(step) => step.validate(),
        }
    }
}

/// One step written as a scenario's `[[steps]]` table, parsed and
/// validated as a scenario file's steps are: the step kinds' tests share it.
#[cfg(test)]
pub(crate) fn parse_step(text: &str) -> Result<Step> {
    let step: Step = toml::from_str::<toml::Value>(text)?.try_into()?;
    step.validate()?;
    Ok(step)
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
                format!("{http}copies = 1\n"),
                "`copies` must be 2 to 64, got 1",
            ),
            (format!("{http}copies = 65\n"), "got 65"),
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
