//! Browser steps: what a person does in a browser during the interactive
//! login (protocol section 6), against the scenario's server, with one
//! cookie jar per scenario ([`crate::browser::Browser`]).
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
//!                                     # listener receives it (crate::wizard_step)
//! external = true                     # or: a partner's callback off this machine,
//!                                     # read and never visited
//! ```
//!
//! `expect` takes `status`, `headers`, `header_contains`, `header_present`,
//! `header_absent`,
//! `body_contains` (raw HTML) and `page_contains`/`page_lacks` (the text a
//! person reads). Strings take the same placeholders as HTTP steps.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use protocol::pkce::{CodeVerifier, S256};

use crate::answer::{excerpt, header, Answer};
use crate::browser::{self, Browser};
use crate::http_step::StepContext;
use crate::placeholders::{Saved, Substitution};
use crate::step_expect;
use crate::steps::HttpExpect;

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

/// Redirects one `browser_follow` takes at most.
pub const MAX_REDIRECTS: usize = 10;

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
            if name.is_empty() || name.contains(['{', '}']) {
                bail!("save name {name:?} must be plain (no braces)");
            }
        }
        if self.external && self.deliver {
            bail!("an `external` callback is never visited: drop `deliver`");
        }
        Ok(())
    }
}

/// Runs `browser_open`.
pub async fn open(
    step: &BrowserOpenStep,
    context: &StepContext<'_>,
    browser: &mut Browser,
    saved: &mut Saved,
    transcript: &mut Vec<String>,
    title: &str,
) -> Result<Vec<String>> {
    let fill = Substitution::new(context.values, saved);
    let mut url = match (&step.url, &step.path) {
        (Some(url), _) => fill.text(url)?,
        (None, Some(path)) => format!("{}{}", context.server_url, fill.text(path)?),
        (None, None) => bail!("give `url` or `path`"),
    };
    let mut query: Vec<(String, String)> = Vec::new();
    for (name, value) in &step.query {
        query.push((name.clone(), fill.text(value)?));
    }
    if step.pkce {
        let verifier = CodeVerifier::generate(context.random);
        query.push((
            "code_challenge".to_owned(),
            verifier.challenge().as_str().to_owned(),
        ));
        query.push(("code_challenge_method".to_owned(), S256.to_owned()));
        if let Some(name) = &step.name {
            saved.insert(&format!("{name}.verifier"), verifier.as_str().to_owned());
        }
    }
    if !query.is_empty() {
        let encoded = serde_urlencoded::to_string(&query)?;
        let separator = if url.contains('?') { '&' } else { '?' };
        url = format!("{url}{separator}{encoded}");
    }
    if browser::origin(&url) != browser::origin(context.server_url) {
        bail!("{url} is not on the scenario's server");
    }
    let answer = get(browser, &url).await?;
    transcript.push(format!("{title}: GET {url} → {}", answer.status));
    let failures = check(&step.expect, &answer, context, saved)?;
    browser.page = Some((url, answer));
    Ok(failures)
}

/// Runs `browser_submit`.
pub async fn submit(
    step: &BrowserSubmitStep,
    context: &StepContext<'_>,
    browser: &mut Browser,
    saved: &Saved,
    transcript: &mut Vec<String>,
    title: &str,
) -> Result<Vec<String>> {
    let fill = Substitution::new(context.values, saved);
    let Some((page_url, page)) = browser.page.clone() else {
        bail!("no page is open (a browser_open step comes first)");
    };
    let forms = browser::parse_forms(&page.body);
    let form = match &step.form {
        Some(id) => forms.iter().find(|form| form.id.as_deref() == Some(id)),
        None => forms.first(),
    };
    let Some(form) = form else {
        let ids: Vec<String> = forms
            .iter()
            .map(|form| form.id.clone().unwrap_or_else(|| "(no id)".to_owned()))
            .collect();
        bail!(
            "the page has no form {}; forms: [{}]; page: {}",
            step.form.as_deref().unwrap_or("at all"),
            ids.join(", "),
            excerpt(&browser::page_text(&page.body))
        );
    };
    let mut fields = form.fields.clone();
    for (name, value) in &step.fields {
        let Some(field) = fields.iter_mut().find(|(field, _)| field == name) else {
            bail!("the form has no field {name:?}");
        };
        field.1 = fill.text(value)?;
    }
    let button = match &step.button {
        Some(wanted) => form
            .buttons
            .iter()
            .find(|button| button.value == *wanted || button.label.eq_ignore_ascii_case(wanted))
            .with_context(|| format!("the form has no button {wanted:?}"))?
            .clone(),
        None => form.buttons.first().cloned().unwrap_or_default(),
    };
    if let Some(name) = &button.name {
        fields.push((name.clone(), button.value.clone()));
    }
    let action = browser::resolve(&page_url, &form.action);
    if browser::origin(&action) != browser::origin(context.server_url) {
        bail!("the form posts to {action}, off the scenario's server");
    }
    let encoded = serde_urlencoded::to_string(&fields)?;
    let (url, answer) = if form.method == "POST" {
        let answer = send(browser, reqwest::Method::POST, &action, Some(encoded)).await?;
        (action, answer)
    } else {
        let separator = if action.contains('?') { '&' } else { '?' };
        let url = format!("{action}{separator}{encoded}");
        (url.clone(), get(browser, &url).await?)
    };
    transcript.push(format!(
        "{title}: {} {url} (form {}) → {}",
        form.method,
        form.id.as_deref().unwrap_or("-"),
        answer.status
    ));
    let failures = check(&step.expect, &answer, context, saved)?;
    browser.page = Some((url, answer));
    Ok(failures)
}

/// Runs `browser_follow`.
pub async fn follow(
    step: &BrowserFollowStep,
    context: &StepContext<'_>,
    browser: &mut Browser,
    saved: &mut Saved,
    transcript: &mut Vec<String>,
    title: &str,
) -> Result<Vec<String>> {
    let Some((mut url, mut answer)) = browser.page.clone() else {
        bail!("no page is open (a browser_open step comes first)");
    };
    let mut callback = None;
    for _ in 0..=MAX_REDIRECTS {
        if !(300..400).contains(&answer.status) {
            break;
        }
        let Some(location) = header(&answer, "location") else {
            break;
        };
        let next = browser::resolve(&url, location);
        if browser::origin(&next) != browser::origin(context.server_url) {
            transcript.push(format!("{title}: redirect to {next} (not visited)"));
            callback = Some(next);
            break;
        }
        answer = get(browser, &next).await?;
        transcript.push(format!("{title}: GET {next} → {}", answer.status));
        url = next;
    }
    let mut failures = check(&step.expect, &answer, context, saved)?;
    browser.page = Some((url, answer.clone()));
    let wants_callback = !step.callback.is_empty() || !step.save.is_empty() || step.deliver;
    let Some(callback) = callback else {
        if wants_callback {
            failures.push(format!(
                "expected a redirect off the server to a callback, got {} with: {}",
                answer.status,
                excerpt(&browser::page_text(&answer.body))
            ));
        }
        return Ok(failures);
    };
    if !step.external && !browser::is_loopback(&callback) {
        failures.push(format!(
            "redirected off the server to {callback}, which is not a loopback callback"
        ));
    }
    let params = browser::query_params(&callback);
    let value_of = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    for (name, wanted) in &step.callback {
        let wanted = Substitution::new(context.values, saved).text(wanted)?;
        match (value_of(name), wanted.is_empty()) {
            (None, true) => {}
            (Some(got), true) => {
                failures.push(format!("callback {name}: expected absent, got {got:?}"))
            }
            (Some(got), false) if got == wanted => {}
            (got, false) => failures.push(format!(
                "callback {name}: expected {wanted:?}, got {got:?} (callback {callback})"
            )),
        }
    }
    for (name, parameter) in &step.save {
        match value_of(parameter) {
            Some(value) => saved.insert(name, value),
            None => failures.push(format!(
                "save {name}: the callback has no {parameter:?} parameter ({callback})"
            )),
        }
    }
    if step.deliver && browser::is_loopback(&callback) {
        failures.extend(deliver(&callback, transcript, title).await?);
    }
    Ok(failures)
}

/// GETs the loopback callback with no cookies (another origin), as the
/// browser does after the last redirect.
async fn deliver(callback: &str, transcript: &mut Vec<String>, title: &str) -> Result<Vec<String>> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the browser's HTTP client")?;
    let response = client
        .get(callback)
        .send()
        .await
        .with_context(|| format!("GET {callback} (the wizard's callback listener)"))?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let text = browser::page_text(&body);
    transcript.push(format!("{title}: GET {callback} → {status} {text}"));
    if !(200..300).contains(&status) {
        return Ok(vec![format!(
            "the callback listener answered {status}: {}",
            excerpt(&text)
        )]);
    }
    Ok(Vec::new())
}

fn check(
    expect: &BrowserExpect,
    answer: &Answer,
    context: &StepContext<'_>,
    saved: &Saved,
) -> Result<Vec<String>> {
    let fill = Substitution::new(context.values, saved);
    let http = HttpExpect {
        status: expect.status,
        headers: expect.headers.clone(),
        header_contains: expect.header_contains.clone(),
        header_present: expect.header_present.clone(),
        body_contains: expect
            .body_contains
            .iter()
            .map(|text| fill.text(text))
            .collect::<Result<_>>()?,
        ..HttpExpect::default()
    };
    let mut failures = step_expect::check(&http, answer);
    for name in &expect.header_absent {
        if let Some(value) = header(answer, name) {
            failures.push(format!("header {name}: expected absent, got {value:?}"));
        }
    }
    let text = browser::page_text(&answer.body);
    for needle in &expect.page_contains {
        let needle = fill.text(needle)?;
        if !text.contains(&needle) {
            failures.push(format!(
                "page: expected it to contain {needle:?}, got: {}",
                excerpt(&text)
            ));
        }
    }
    for needle in &expect.page_lacks {
        let needle = fill.text(needle)?;
        if text.contains(&needle) {
            failures.push(format!("page: expected it to lack {needle:?}"));
        }
    }
    Ok(failures)
}

async fn get(browser: &mut Browser, url: &str) -> Result<Answer> {
    send(browser, reqwest::Method::GET, url, None).await
}

/// One request with the jar's cookies, redirects not followed.
async fn send(
    browser: &mut Browser,
    method: reqwest::Method,
    url: &str,
    form: Option<String>,
) -> Result<Answer> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .context("cannot build the browser's HTTP client")?;
    let mut request = client.request(method.clone(), url);
    if let Some(cookie) = browser.cookie_header() {
        request = request.header("cookie", cookie);
    }
    if let Some(form) = form {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    for value in response.headers().get_all("set-cookie") {
        if let Ok(value) = value.to_str() {
            browser.store_cookie(value);
        }
    }
    Ok(Answer::read(response).await)
}

#[cfg(test)]
mod tests {
    use crate::steps::Step;

    fn parse(text: &str) -> anyhow::Result<Step> {
        let step: Step = toml::from_str::<toml::Value>(text)?.try_into()?;
        step.validate()?;
        Ok(step)
    }

    #[test]
    fn browser_steps_parse_and_validate() {
        let open = parse(
            "kind = \"browser_open\"\nname = \"login\"\npath = \"/oauth/authorize\"\nquery = { client_id = \"posthog-wizard\" }\npkce = true\nexpect = { status = 200, page_contains = [\"Sign in\"], header_absent = [\"location\"] }\n",
        )
        .unwrap();
        assert_eq!(open.label(), "login");
        let submit = parse(
            "kind = \"browser_submit\"\nform = \"consent\"\nfields = { team_id = \"1\" }\nbutton = \"allow\"\n",
        )
        .unwrap();
        assert_eq!(submit.label(), "submit consent");
        let follow = parse(
            "kind = \"browser_follow\"\ncallback = { state = \"s\", error = \"\" }\nsave = { code = \"code\" }\n",
        )
        .unwrap();
        assert_eq!(follow.label(), "follow redirects");
        let Step::BrowserFollow(delivering) =
            parse("kind = \"browser_follow\"\ndeliver = true\n").unwrap()
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
            let message = format!("{:#}", parse(text).unwrap_err());
            assert!(message.contains(needle), "{text}: {message}");
        }
    }
}
