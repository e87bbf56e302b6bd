//! A very small browser for the interactive login's pages: one cookie jar
//! per scenario, the last page, and a form parser that reads our own plain
//! HTML (`server/src/login_html.rs`). It never follows a redirect by itself
//! and never connects anywhere but the scenario's server: a redirect off
//! the server (the wizard's loopback callback) is read, not visited, unless
//! a `browser_follow` step says `deliver = true`.

use std::collections::BTreeMap;

use crate::answer::Answer;

/// The scenario's browser: cookies of the server and the last answer.
#[derive(Debug, Default)]
pub struct Browser {
    /// Cookie name → value (one origin: the scenario's server).
    pub cookies: BTreeMap<String, String>,
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
    /// The `Cookie` header for the server, if any cookie is held.
    pub fn cookie_header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        Some(
            self.cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// Stores (or, for `Max-Age=0` or an empty value, deletes) the cookie
    /// of one `Set-Cookie` header value.
    pub fn store_cookie(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        let expired = parts.any(|attribute| {
            let attribute = attribute.trim().to_ascii_lowercase();
            attribute == "max-age=0" || attribute.starts_with("max-age=-")
        });
        if expired || value.is_empty() {
            self.cookies.remove(&name);
        } else {
            self.cookies.insert(name, value);
        }
    }
}

/// Every form of `html`.
pub fn parse_forms(html: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    let mut current: Option<Form> = None;
    // (name, first option, selected option) of the open <select>.
    let mut select: Option<(String, Option<String>, Option<String>)> = None;
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let tag = &after[..end];
        let text_after = &after[end + 1..];
        rest = text_after;
        let (name, attributes) = parse_tag(tag);
        match name.as_str() {
            "form" => {
                current = Some(Form {
                    id: attributes.get("id").cloned(),
                    action: attributes.get("action").cloned().unwrap_or_default(),
                    method: attributes
                        .get("method")
                        .map_or("GET".to_owned(), |method| method.to_ascii_uppercase()),
                    fields: Vec::new(),
                    buttons: Vec::new(),
                });
            }
            "/form" => forms.extend(current.take()),
            "input" => {
                let Some(form) = current.as_mut() else {
                    continue;
                };
                let kind = attributes
                    .get("type")
                    .map_or("text".to_owned(), |kind| kind.to_ascii_lowercase());
                let value = attributes.get("value").cloned().unwrap_or_default();
                match (kind.as_str(), attributes.get("name")) {
                    ("submit", name) => form.buttons.push(Button {
                        name: name.cloned(),
                        label: value.clone(),
                        value,
                    }),
                    ("checkbox" | "radio", Some(name)) => {
                        if attributes.contains_key("checked") {
                            form.fields.push((name.clone(), value));
                        }
                    }
                    (_, Some(name)) => form.fields.push((name.clone(), value)),
                    (_, None) => {}
                }
            }
            "select" => {
                select = attributes
                    .get("name")
                    .map(|name| (name.clone(), None, None));
            }
            "option" => {
                if let Some((_, first, selected)) = select.as_mut() {
                    let value = attributes.get("value").cloned().unwrap_or_else(|| {
                        unescape(text_after.split('<').next().unwrap_or("").trim())
                    });
                    if first.is_none() {
                        *first = Some(value.clone());
                    }
                    if attributes.contains_key("selected") {
                        *selected = Some(value);
                    }
                }
            }
            "/select" => {
                if let (Some((name, first, selected)), Some(form)) =
                    (select.take(), current.as_mut())
                {
                    if let Some(value) = selected.or(first) {
                        form.fields.push((name, value));
                    }
                }
            }
            "button" => {
                let Some(form) = current.as_mut() else {
                    continue;
                };
                let kind = attributes.get("type").map_or("submit", String::as_str);
                if kind.eq_ignore_ascii_case("submit") {
                    let label = unescape(text_after.split("</button").next().unwrap_or("").trim());
                    form.buttons.push(Button {
                        name: attributes.get("name").cloned(),
                        value: attributes.get("value").cloned().unwrap_or_default(),
                        label,
                    });
                }
            }
            _ => {}
        }
    }
    forms
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

fn parse_tag(tag: &str) -> (String, BTreeMap<String, String>) {
    let tag = tag.trim().trim_end_matches('/');
    let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
    let name = tag[..name_end].to_ascii_lowercase();
    let mut attributes = BTreeMap::new();
    let mut rest = tag[name_end..].trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let end = inner.find(quote).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = remaining.trim_start();
            unescape(value)
        } else {
            String::new()
        };
        if !key.is_empty() {
            attributes.insert(key, value);
        }
    }
    (name, attributes)
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
