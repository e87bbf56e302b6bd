//! Runs the browser steps (`browser_open`, `browser_submit`,
//! `browser_follow`) against the scenario's server, with one
//! [`Browser`] per scenario: its cookie jar and
//! its last page. Their tables are in [`crate::steps`].

use std::time::Duration;

use anyhow::{bail, Context, Result};

use protocol::pkce::{CodeVerifier, S256};

use crate::answer::{excerpt, header, Answer};
use crate::browser::{self, Browser};
use crate::placeholders::{Saved, Substitution};
use crate::step_context::StepContext;
use crate::step_expect;
use crate::steps::{
    BrowserExpect, BrowserFollowStep, BrowserOpenStep, BrowserSubmitStep, HttpExpect,
};

/// Redirects one `browser_follow` takes at most.
pub const MAX_REDIRECTS: usize = 10;

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
    let client = browser.client(Duration::from_secs(5))?;
    let mut request = client.request(method.clone(), url);
    if let Some(form) = form {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    Ok(Answer::read(response).await)
}
