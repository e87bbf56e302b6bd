//! Browser steps: what a person does in a browser during the interactive
//! login (protocol section 6), against the scenario's server, with one
//! cookie jar per scenario (see `browser.rs`).
//!
//! ```toml
//! [[steps]]
//! kind = "browser_open"               # GET a page; never follows redirects
//! name = "login"                      # with pkce = true: {saved.login.verifier}
//! path = "/oauth/authorize"           # or url = "{saved.authorize_url}&state=x"
//! query = { client_id = "posthog-wizard", redirect_uri = "http://127.0.0.1:8239/callback", response_type = "code", scope = "user:read", state = "s1" }
//! pkce = true                         # adds code_challenge and code_challenge_method=S256
//! expect = { status = 200, page_contains = ["Sign in to PostHog"] }
//!
//! [[steps]]
//! kind = "browser_submit"             # fills and submits a form of the current page
//! form = "sign-in"                    # the form's id; default: the page's only/first form
//! fields = { email = "login@example.com", password = "…" }
//! button = "allow"                    # a button's value or text; default: the first one
//! expect = { status = 303 }
//!
//! [[steps]]
//! kind = "browser_follow"             # follows redirects on the server; stops at a
//!                                     # redirect off it (the loopback callback), unvisited
//! callback = { state = "s1" }         # expected query parameters of the callback
//! save = { code = "code" }            # saved name → the callback's query parameter
//! deliver = true                      # then GET the callback: the running wizard's
//!                                     # listener receives it (the wizard step)
//! external = true                     # or: a partner's callback off this machine,
//!                                     # read and never visited
//! ```
//!
//! `expect` takes `status`, `headers`, `header_contains`, `header_present`,
//! `header_absent`,
//! `body_contains` (raw HTML) and `page_contains`/`page_lacks` (the text a
//! person reads). Strings take the same placeholders as HTTP steps.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::Deserialize;

use super::http::check_save_name;

/// `GET` a page of the server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserOpenStep {
    #[serde(default)]
    pub label: Option<String>,
    /// Needed by `pkce = true`.
    #[serde(default)]
    pub name: Option<String>,
    /// A full URL on the server (placeholders allowed), e.g. a saved
    /// `requires_auth` URL with more parameters appended.
    #[serde(default)]
    pub url: Option<String>,
    /// A path on the server, with `query`.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Adds a fresh S256 `code_challenge` and `code_challenge_method` to
    /// the query, and saves the verifier as `{saved.<name>.verifier}`.
    #[serde(default)]
    pub pkce: bool,
    #[serde(default)]
    pub expect: BrowserExpect,
}

/// Fills and submits a form of the current page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserSubmitStep {
    #[serde(default)]
    pub label: Option<String>,
    /// The form's `id`; default: the first form of the page.
    #[serde(default)]
    pub form: Option<String>,
    /// Field name → value; each must be a field of the form.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The pressed button, by value or text; default: the first.
    #[serde(default)]
    pub button: Option<String>,
    #[serde(default)]
    pub expect: BrowserExpect,
}

/// Follows the current answer's redirects on the server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserFollowStep {
    #[serde(default)]
    pub label: Option<String>,
    /// Query parameter → expected value at the callback; `""` means the
    /// parameter must be absent.
    #[serde(default)]
    pub callback: BTreeMap<String, String>,
    /// Saved name → query parameter of the callback.
    #[serde(default)]
    pub save: BTreeMap<String, String>,
    /// Visit the loopback callback too, as a browser would: the running
    /// wizard's own listener gets the code (or the refusal). Its answer must
    /// be a 2xx page.
    #[serde(default)]
    pub deliver: bool,
    /// The callback is a partner's registered redirect URI off this
    /// machine (today's consent sends the code there): it is read, never
    /// visited. Otherwise a callback off loopback is a failure.
    #[serde(default)]
    pub external: bool,
    /// Checks the last answer (the callback redirect, or the page reached).
    #[serde(default)]
    pub expect: BrowserExpect,
}

/// What a browser step's answer must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserExpect {
    pub status: Option<u16>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub header_contains: BTreeMap<String, String>,
    #[serde(default)]
    pub header_present: Vec<String>,
    /// Header names that must be absent (e.g. `location`: not redirected).
    #[serde(default)]
    pub header_absent: Vec<String>,
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// Substrings of the page's text (tags dropped, entities decoded).
    #[serde(default)]
    pub page_contains: Vec<String>,
    #[serde(default)]
    pub page_lacks: Vec<String>,
}

impl BrowserOpenStep {
    pub fn label(&self) -> String {
        self.label
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| {
                format!(
                    "open {}",
                    self.path.as_deref().or(self.url.as_deref()).unwrap_or("")
                )
            })
    }

    pub fn validate(&self) -> Result<()> {
        match (&self.url, &self.path) {
            (Some(_), Some(_)) => bail!("give `url` or `path`, not both"),
            (None, None) => bail!("give `url` or `path`"),
            (None, Some(path)) if !path.starts_with('/') => {
                bail!("path {path:?} must start with `/`")
            }
            _ => {}
        }
        if self.pkce && self.name.is_none() {
            bail!(
                "`pkce = true` needs a `name` (the verifier is saved as {{saved.<name>.verifier}})"
            );
        }
        Ok(())
    }
}

impl BrowserFollowStep {
    pub fn validate(&self) -> Result<()> {
        for name in self.save.keys() {
            check_save_name(name)?;
        }
        if self.external && self.deliver {
            bail!("an `external` callback is never visited: drop `deliver`");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::steps::{parse_step, Step};

    #[test]
    fn browser_steps_parse_and_validate() {
        let open = parse_step(
            "kind = \"browser_open\"\nname = \"login\"\npath = \"/oauth/authorize\"\nquery = { client_id = \"posthog-wizard\" }\npkce = true\nexpect = { status = 200, page_contains = [\"Sign in\"], header_absent = [\"location\"] }\n",
        )
        .unwrap();
        assert_eq!(open.label(), "login");
        let submit = parse_step(
            "kind = \"browser_submit\"\nform = \"consent\"\nfields = { team_id = \"1\" }\nbutton = \"allow\"\n",
        )
        .unwrap();
        assert_eq!(submit.label(), "submit consent");
        let follow = parse_step(
            "kind = \"browser_follow\"\ncallback = { state = \"s\", error = \"\" }\nsave = { code = \"code\" }\n",
        )
        .unwrap();
        assert_eq!(follow.label(), "follow redirects");
        let Step::BrowserFollow(delivering) =
            parse_step("kind = \"browser_follow\"\ndeliver = true\n").unwrap()
        else {
            panic!()
        };
        assert!(delivering.deliver);
        let Step::BrowserFollow(reading) = follow else {
            panic!()
        };
        assert!(!reading.deliver);
        for (text, needle) in [
            ("kind = \"browser_open\"\n", "`url` or `path`"),
            (
                "kind = \"browser_open\"\npath = \"/a\"\nurl = \"http://x\"\n",
                "not both",
            ),
            ("kind = \"browser_open\"\npath = \"a\"\n", "must start with"),
            (
                "kind = \"browser_open\"\npath = \"/a\"\npkce = true\n",
                "needs a `name`",
            ),
            ("kind = \"browser_submit\"\nfeilds = {}\n", "feilds"),
            (
                "kind = \"browser_follow\"\nsave = { \"{x}\" = \"code\" }\n",
                "plain",
            ),
            (
                "kind = \"browser_follow\"\nexpect = { page_contain = [] }\n",
                "page_contain",
            ),
            ("kind = \"browser_follow\"\ndelivre = true\n", "delivre"),
        ] {
            let message = format!("{:#}", parse_step(text).unwrap_err());
            assert!(message.contains(needle), "{text}: {message}");
        }
    }
}
