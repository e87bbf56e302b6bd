//! A very small browser for the interactive login's pages: one cookie jar
//! per scenario, the last page, and the forms of a page as a browser
//! would submit them (`server/src/login_html.rs` writes the pages). It
//! never follows a redirect by itself and never connects anywhere but the
//! scenario's server: a redirect off the server (the wizard's loopback
//! callback) is read, not visited, unless a `browser_follow` step says
//! `deliver = true`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::cookie::{CookieStore, Jar};
use scraper::node::Element;
use scraper::{ElementRef, Html};

use crate::answer::Answer;

/// Where [`Browser::store_cookie`] and [`Browser::cookie_header`] file
/// the cookies of a caller that sends its own requests: the loopback
/// host every service of the harness listens on. Cookies belong to a host,
/// not to a port (RFC 6265, section 8.5), so these are the cookies the
/// browser's own client sends to the server on any port of it.
pub const LOOPBACK: &str = "http://127.0.0.1/";

/// The scenario's browser: the server's cookies and the last answer.
#[derive(Debug, Default)]
pub struct Browser {
    /// reqwest's jar: what a browser keeps (expiry, paths, hosts).
    jar: Arc<Jar>,
    /// The URL and answer of the last request.
    pub page: Option<(String, Answer)>,
}

/// A `<form>` of a page, as a browser would submit it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pub id: Option<String>,
    pub action: String,
    /// Upper case; `GET` when absent.
    pub method: String,
    /// Successful controls in document order (inputs, selects).
    pub fields: Vec<(String, String)>,
    pub buttons: Vec<Button>,
}

/// A submit button: sent as `name=value` when it is the one pressed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Button {
    pub name: Option<String>,
    pub value: String,
    /// Its text, trimmed.
    pub label: String,
}

impl Browser {
    /// A client that sends the jar's cookies and keeps those the answers
    /// set, and never follows a redirect (the steps read each one).
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .cookie_provider(self.jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .context("cannot build the browser's HTTP client")
    }

    /// The `Cookie` header for the server, if any cookie is held, names in
    /// order.
    pub fn cookie_header(&self) -> Option<String> {
        let header = self.jar.cookies(&loopback())?;
        let mut pairs: Vec<&str> = header.to_str().ok()?.split("; ").collect();
        pairs.sort_unstable();
        Some(pairs.join("; "))
    }

    /// Stores (or, when it has expired, as with `Max-Age=0`, deletes) the
    /// cookie of one `Set-Cookie` header value.
    pub fn store_cookie(&mut self, set_cookie: &str) {
        self.jar.add_cookie_str(set_cookie, &loopback());
    }
}

fn loopback() -> reqwest::Url {
    reqwest::Url::parse(LOOPBACK).expect("LOOPBACK is a URL")
}

/// Every form of `html`, parsed as a browser parses the page (html5ever,
/// through scraper), with its successful controls in document order:
/// inputs (a checkbox or radio only when checked), selects (the selected
/// option, else the first) and submit buttons.
pub fn parse_forms(html: &str) -> Vec<Form> {
    let document = Html::parse_document(html);
    document
        .root_element()
        .descendent_elements()
        .filter(|element| element.value().name() == "form")
        .map(read_form)
        .collect()
}

fn read_form(form: ElementRef<'_>) -> Form {
    let attribute = |name| form.value().attr(name);
    let mut parsed = Form {
        id: attribute("id").map(str::to_owned),
        action: attribute("action").unwrap_or_default().to_owned(),
        method: attribute("method").map_or("GET".to_owned(), str::to_ascii_uppercase),
        fields: Vec::new(),
        buttons: Vec::new(),
    };
    for control in form.descendent_elements() {
        match control.value().name() {
            "input" => read_input(control.value(), &mut parsed),
            "select" => parsed.fields.extend(read_select(control)),
            "button" => parsed.buttons.extend(read_button(control)),
            _ => {}
        }
    }
    parsed
}

/// An `<input>`: a submit button, a checked box, or a named field.
fn read_input(input: &Element, form: &mut Form) {
    let kind = input
        .attr("type")
        .map_or("text".to_owned(), str::to_ascii_lowercase);
    let value = input.attr("value").unwrap_or_default().to_owned();
    match (kind.as_str(), input.attr("name")) {
        ("submit", name) => form.buttons.push(Button {
            name: name.map(str::to_owned),
            label: value.clone(),
            value,
        }),
        ("checkbox" | "radio", Some(name)) => {
            if input.attr("checked").is_some() {
                form.fields.push((name.to_owned(), value));
            }
        }
        (_, Some(name)) => form.fields.push((name.to_owned(), value)),
        (_, None) => {}
    }
}

/// A named `<select>`'s pair: its selected option's value, else its
/// first's (an option without a value sends its text).
fn read_select(select: ElementRef<'_>) -> Option<(String, String)> {
    let name = select.value().attr("name")?;
    let options: Vec<(String, bool)> = select
        .descendent_elements()
        .filter(|element| element.value().name() == "option")
        .map(|option| {
            let value = match option.value().attr("value") {
                Some(value) => value.to_owned(),
                None => option.text().collect::<String>().trim().to_owned(),
            };
            (value, option.value().attr("selected").is_some())
        })
        .collect();
    let chosen = options
        .iter()
        .find(|(_, selected)| *selected)
        .or(options.first())?;
    Some((name.to_owned(), chosen.0.clone()))
}

/// A `<button>` that submits (its type is `submit`, or absent).
fn read_button(button: ElementRef<'_>) -> Option<Button> {
    let element = button.value();
    let kind = element.attr("type").unwrap_or("submit");
    if !kind.eq_ignore_ascii_case("submit") {
        return None;
    }
    Some(Button {
        name: element.attr("name").map(str::to_owned),
        value: element.attr("value").unwrap_or_default().to_owned(),
        label: button.text().collect::<String>().trim().to_owned(),
    })
}

/// The text a person reads: tags dropped, entities decoded, whitespace
/// collapsed.
pub fn page_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    unescape(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `target` resolved against the page at `base` (absolute, or a path on
/// the same origin).
pub fn resolve(base: &str, target: &str) -> String {
    if target.starts_with("http://") || target.starts_with("https://") {
        return target.to_owned();
    }
    let origin = origin(base);
    if target.is_empty() {
        return base.to_owned();
    }
    if target.starts_with('/') {
        return format!("{origin}{target}");
    }
    let directory = base
        .split(['?', '#'])
        .next()
        .unwrap_or(base)
        .rsplit_once('/')
        .map_or(origin.clone(), |(directory, _)| directory.to_owned());
    format!("{directory}/{target}")
}

/// `scheme://host[:port]` of a URL.
pub fn origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{authority}")
}

/// Whether a URL points at this machine's loopback interface.
pub fn is_loopback(url: &str) -> bool {
    let origin = origin(url);
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// The decoded query parameters of a URL.
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let query = url
        .split_once('?')
        .map_or("", |(_, query)| query)
        .split('#')
        .next()
        .unwrap_or("");
    serde_urlencoded::from_str(query).unwrap_or_default()
}

/// Decodes the entities our pages use (and numeric ones).
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find(';').filter(|end| *end <= 10) else {
            out.push('&');
            rest = &after[1..];
            continue;
        };
        let entity = &after[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSENT: &str = r#"<h1>Authorize PostHog &amp; Co</h1>
<form id="consent" method="post" action="/oauth/authorize">
<input type="hidden" name="step" value="consent">
<input type="hidden" name="state" value="a&quot;b">
<input type=checkbox name=remember value=yes>
<label>Project <select name="team_id">
<option value="7">First</option>
<option value="8" selected>Second</option>
</select></label>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<form id="sign-in" action="/x"><input name="email"><input type="password" name="password" value=""><button>Sign in</button></form>"#;

    #[test]
    fn forms_parse_as_a_browser_would_submit_them() {
        let forms = parse_forms(CONSENT);
        assert_eq!(forms.len(), 2);
        let consent = &forms[0];
        assert_eq!(consent.id.as_deref(), Some("consent"));
        assert_eq!(consent.method, "POST");
        assert_eq!(consent.action, "/oauth/authorize");
        assert_eq!(
            consent.fields,
            [
                ("step".to_owned(), "consent".to_owned()),
                ("state".to_owned(), "a\"b".to_owned()),
                ("team_id".to_owned(), "8".to_owned()),
            ]
        );
        assert_eq!(consent.buttons.len(), 2);
        assert_eq!(consent.buttons[1].value, "deny");
        assert_eq!(consent.buttons[1].label, "Deny");
        let sign_in = &forms[1];
        assert_eq!(sign_in.method, "GET");
        assert_eq!(sign_in.fields.len(), 2);
        assert_eq!(sign_in.buttons[0].label, "Sign in");
        assert_eq!(sign_in.buttons[0].name, None);
    }

    #[test]
    fn cookies_urls_and_text() {
        let mut browser = Browser::default();
        browser.store_cookie("posthog_session=abc; Path=/; HttpOnly; SameSite=Lax");
        browser.store_cookie("other=1");
        assert_eq!(
            browser.cookie_header().as_deref(),
            Some("other=1; posthog_session=abc")
        );
        browser.store_cookie("other=1; Max-Age=0");
        assert_eq!(
            browser.cookie_header().as_deref(),
            Some("posthog_session=abc")
        );
        assert_eq!(
            resolve(
                "http://127.0.0.1:5/oauth/authorize?x=1",
                "/oauth/authorize?y"
            ),
            "http://127.0.0.1:5/oauth/authorize?y"
        );
        assert_eq!(resolve("http://h:1/a/b", "c"), "http://h:1/a/c");
        assert_eq!(resolve("http://h:1/a", "http://x/y"), "http://x/y");
        assert!(is_loopback("http://127.0.0.1:8239/callback?code=x"));
        assert!(is_loopback("http://localhost:1/callback"));
        assert!(!is_loopback("http://evil.example/callback"));
        assert!(!is_loopback("https://localhost/callback"));
        assert_eq!(
            query_params("http://l/c?code=a+b&state=s%26t"),
            [
                ("code".to_owned(), "a b".to_owned()),
                ("state".to_owned(), "s&t".to_owned())
            ]
        );
        assert_eq!(
            page_text("<p>Wrong &amp;\n  bad</p><b>x</b>"),
            "Wrong & bad x"
        );
        assert_eq!(unescape("&#39;&#x41;&bogus; & &amp;"), "'A&bogus; & &");
    }
}
