//! Chromium steps: what a person does in a real browser (headless
//! Chromium driven over WebDriver, see `chromium.rs`), one browser per
//! scenario, its cookies kept from one step to the next. Beside the fast
//! HTTP-level browser steps (`browser.rs`), these show that a real
//! browser's cookie, form and redirect rules let a person through.
//!
//! ```toml
//! [[steps]]
//! kind = "chromium"
//! label = "sign in and allow"
//! timeout_seconds = 30                # the whole step, screenshot included
//! actions = [
//!   { open = "{saved.url}" },         # a full URL, or a path on the server
//!   { open = "{saved.url}", drop_query = ["redirect_uri"] },
//!   { expect_status = 200 },          # the last navigation's HTTP status
//!   { expect_text = "Sign in to PostHog" },   # waits until the page shows it
//!   { expect_no_text = "Wrong password" },
//!   { fill = "#sign-in [name=email]", value = "login@example.com" },
//!   { click = "#consent button[value=allow]" },
//!   { expect_url = "http://localhost:{saved.free_port}/callback?" },  # a prefix
//!   { read = "#authorization-code", save = "code" },  # the element's text
//! ]
//! ```
//!
//! Every step ends with a check that the page holds no full credential,
//! then a screenshot (PNG) of the page, saved in the scenario's report
//! folder; saved values are masked on the page first.

use anyhow::{bail, Result};
use serde::Deserialize;

use super::http::check_save_name;

/// How long a Chromium step may take by default.
pub const DEFAULT_CHROMIUM_TIMEOUT: u64 = 30;

/// The longest a Chromium step may be given.
pub const MAX_CHROMIUM_TIMEOUT: u64 = 120;

/// One Chromium step (`kind = "chromium"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChromiumStep {
    #[serde(default)]
    pub label: Option<String>,
    /// Seconds for every action and the screenshot together.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    pub actions: Vec<ChromiumAction>,
}

/// One thing the person does or sees, in order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawAction")]
pub enum ChromiumAction {
    /// Navigate to a URL (a path is on the scenario's server), without
    /// the named query parameters.
    Open {
        url: String,
        drop_query: Vec<String>,
    },
    /// Type into the field the CSS selector finds (cleared first).
    Fill { selector: String, value: String },
    /// Click the element the CSS selector finds.
    Click { selector: String },
    /// Save the text of the element the CSS selector finds.
    Read { selector: String, save: String },
    /// The page's text holds this, at once or before the step's deadline.
    ExpectText(String),
    /// The page's text does not hold this.
    ExpectNoText(String),
    /// The current URL starts with this.
    ExpectUrl(String),
    /// The HTTP status of the last navigation.
    ExpectStatus(u16),
}

/// An action as written: exactly one verb, with its companions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    open: Option<String>,
    #[serde(default)]
    drop_query: Vec<String>,
    fill: Option<String>,
    value: Option<String>,
    click: Option<String>,
    read: Option<String>,
    save: Option<String>,
    expect_text: Option<String>,
    expect_no_text: Option<String>,
    expect_url: Option<String>,
    expect_status: Option<u16>,
}

impl TryFrom<RawAction> for ChromiumAction {
    type Error = String;

    fn try_from(raw: RawAction) -> Result<Self, String> {
        let verbs = [
            raw.open.is_some(),
            raw.fill.is_some(),
            raw.click.is_some(),
            raw.read.is_some(),
            raw.expect_text.is_some(),
            raw.expect_no_text.is_some(),
            raw.expect_url.is_some(),
            raw.expect_status.is_some(),
        ];
        if verbs.iter().filter(|verb| **verb).count() != 1 {
            return Err("an action takes exactly one of open, fill, click, read, expect_text, expect_no_text, expect_url, expect_status".to_owned());
        }
        if !raw.drop_query.is_empty() && raw.open.is_none() {
            return Err("`drop_query` goes with `open`".to_owned());
        }
        if raw.value.is_some() && raw.fill.is_none() {
            return Err("`value` goes with `fill`".to_owned());
        }
        if raw.save.is_some() && raw.read.is_none() {
            return Err("`save` goes with `read`".to_owned());
        }
        if let Some(url) = raw.open {
            return Ok(ChromiumAction::Open {
                url,
                drop_query: raw.drop_query,
            });
        }
        if let Some(selector) = raw.fill {
            let value = raw.value.ok_or("`fill` needs a `value`")?;
            return Ok(ChromiumAction::Fill { selector, value });
        }
        if let Some(selector) = raw.click {
            return Ok(ChromiumAction::Click { selector });
        }
        if let Some(selector) = raw.read {
            let save = raw.save.ok_or("`read` needs a `save` name")?;
            check_save_name(&save).map_err(|error| error.to_string())?;
            return Ok(ChromiumAction::Read { selector, save });
        }
        if let Some(text) = raw.expect_text {
            return Ok(ChromiumAction::ExpectText(text));
        }
        if let Some(text) = raw.expect_no_text {
            return Ok(ChromiumAction::ExpectNoText(text));
        }
        if let Some(prefix) = raw.expect_url {
            return Ok(ChromiumAction::ExpectUrl(prefix));
        }
        match raw.expect_status {
            Some(status) => Ok(ChromiumAction::ExpectStatus(status)),
            None => Err("an action needs a verb".to_owned()),
        }
    }
}

impl ChromiumStep {
    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| format!("chromium, {} action(s)", self.actions.len()))
    }

    pub fn validate(&self) -> Result<()> {
        if self.actions.is_empty() {
            bail!("a chromium step needs at least one action");
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > MAX_CHROMIUM_TIMEOUT {
            bail!(
                "`timeout_seconds` must be 1 to {MAX_CHROMIUM_TIMEOUT}, got {}",
                self.timeout_seconds
            );
        }
        Ok(())
    }
}

impl ChromiumAction {
    /// What the action does, for the transcript (before substitution).
    pub fn describe(&self) -> String {
        match self {
            ChromiumAction::Open { url, drop_query } if drop_query.is_empty() => {
                format!("open {url}")
            }
            ChromiumAction::Open { url, drop_query } => {
                format!("open {url} without {}", drop_query.join(", "))
            }
            ChromiumAction::Fill { selector, .. } => format!("fill {selector}"),
            ChromiumAction::Click { selector } => format!("click {selector}"),
            ChromiumAction::Read { selector, save } => format!("read {selector} into {save}"),
            ChromiumAction::ExpectText(text) => format!("expect text {text:?}"),
            ChromiumAction::ExpectNoText(text) => format!("expect no text {text:?}"),
            ChromiumAction::ExpectUrl(prefix) => format!("expect URL {prefix}…"),
            ChromiumAction::ExpectStatus(status) => format!("expect status {status}"),
        }
    }
}

/// Whether any of the steps needs Chromium.
pub fn needs_chromium(steps: &[super::Step]) -> bool {
    steps
        .iter()
        .any(|step| matches!(step, super::Step::Chromium(_)))
}

/// Query pairs of `url` without the `drop` names, the rest in order.
pub fn without_query(url: &str, drop: &[String]) -> String {
    if drop.is_empty() {
        return url.to_owned();
    }
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<(String, String)> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| !drop.contains(name))
        .collect();
    match kept.is_empty() {
        true => base.to_owned(),
        false => format!(
            "{base}?{}",
            serde_urlencoded::to_string(&kept).unwrap_or_default()
        ),
    }
}

fn default_timeout() -> u64 {
    DEFAULT_CHROMIUM_TIMEOUT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::{parse_step, Step};

    #[test]
    fn chromium_steps_parse_into_one_verb_per_action() {
        let step = parse_step(
            "kind = \"chromium\"\nlabel = \"sign in\"\nactions = [\n{ open = \"{saved.url}\", drop_query = [\"redirect_uri\"] },\n{ fill = \"#e\", value = \"a@b.c\" },\n{ click = \"button\" },\n{ read = \"#code\", save = \"code\" },\n{ expect_text = \"Hi\" },\n{ expect_no_text = \"Bye\" },\n{ expect_url = \"http://x/\" },\n{ expect_status = 200 },\n]\n",
        )
        .unwrap();
        let Step::Chromium(step) = step else { panic!() };
        assert_eq!(step.timeout_seconds, DEFAULT_CHROMIUM_TIMEOUT);
        assert_eq!(
            step.actions,
            vec![
                ChromiumAction::Open {
                    url: "{saved.url}".into(),
                    drop_query: vec!["redirect_uri".into()]
                },
                ChromiumAction::Fill {
                    selector: "#e".into(),
                    value: "a@b.c".into()
                },
                ChromiumAction::Click {
                    selector: "button".into()
                },
                ChromiumAction::Read {
                    selector: "#code".into(),
                    save: "code".into()
                },
                ChromiumAction::ExpectText("Hi".into()),
                ChromiumAction::ExpectNoText("Bye".into()),
                ChromiumAction::ExpectUrl("http://x/".into()),
                ChromiumAction::ExpectStatus(200),
            ]
        );
    }

    #[test]
    fn bad_chromium_steps_are_refused_naming_the_problem() {
        let step = "kind = \"chromium\"\n";
        for (text, needle) in [
            (format!("{step}actions = []\n"), "at least one action"),
            (
                format!("{step}actions = [{{ open = \"/\", click = \"a\" }}]\n"),
                "exactly one",
            ),
            (format!("{step}actions = [{{}}]\n"), "exactly one"),
            (format!("{step}actions = [{{ fill = \"a\" }}]\n"), "`value`"),
            (format!("{step}actions = [{{ read = \"a\" }}]\n"), "`save`"),
            (
                format!("{step}actions = [{{ click = \"a\", value = \"v\" }}]\n"),
                "goes with `fill`",
            ),
            (
                format!("{step}actions = [{{ click = \"a\", drop_query = [\"x\"] }}]\n"),
                "goes with `open`",
            ),
            (
                format!("{step}actions = [{{ read = \"a\", save = \"{{x}}\" }}]\n"),
                "plain",
            ),
            (format!("{step}actions = [{{ clik = \"a\" }}]\n"), "clik"),
            (
                format!("{step}timeout_seconds = 121\nactions = [{{ click = \"a\" }}]\n"),
                "got 121",
            ),
        ] {
            let message = format!("{:#}", parse_step(&text).unwrap_err());
            assert!(message.contains(needle), "{text}: {message}");
        }
    }

    #[test]
    fn dropping_query_parameters_keeps_the_rest_in_order() {
        let drop = vec!["redirect_uri".to_owned()];
        for (url, expected) in [
            (
                "http://h/oauth/authorize?a=1&redirect_uri=http%3A%2F%2Fx&b=2",
                "http://h/oauth/authorize?a=1&b=2",
            ),
            ("http://h/p?redirect_uri=x", "http://h/p"),
            ("http://h/p", "http://h/p"),
        ] {
            assert_eq!(without_query(url, &drop), expected, "{url}");
        }
        assert_eq!(without_query("http://h/p?a=1", &[]), "http://h/p?a=1");
    }
}
