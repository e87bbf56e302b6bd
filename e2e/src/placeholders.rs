//! The values a scenario's text names in braces, and the one substitution
//! that replaces them.
//!
//! A scenario's strings (wizard arguments and environment, step paths,
//! headers, bodies, forms, credentials, expected values) may hold
//! `{email}`, `{server}`, `{other_server}`, `{gateway}` and `{project}`
//! (the scenario's [`Placeholders`]), `{saved.<name>}` (a value an earlier
//! step saved, [`Saved`]) and, in a wizard step, `{free_port}`.
//! [`Substitution`] replaces all of them in one pass, left to right: a
//! replaced value is never read again, a `{saved.<name>}` no earlier step
//! saved is an error naming it, and any other braces (`{}`, `{id}`, JSON)
//! stay as they are.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

/// The placeholder replaced by a free loopback port in wizard steps.
pub const FREE_PORT: &str = "{free_port}";

/// The scenario's own values: known once its services run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholders {
    pub email: String,
    pub server: String,
    /// The `[other_server]`'s URL; empty when the scenario has none.
    pub other_server: String,
    pub gateway: String,
    pub project: String,
}

/// Values saved by earlier steps, substituted as `{saved.<name>}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    values: BTreeMap<String, String>,
}

/// Everything one text may name: the scenario's values, what the steps
/// saved so far, and the port a wizard step drew.
#[derive(Debug, Clone, Copy)]
pub struct Substitution<'a> {
    values: &'a Placeholders,
    saved: &'a Saved,
    free_port: Option<u16>,
}

impl Placeholders {
    /// The value of a plain `{name}`, if the scenario has one by that name.
    fn get(&self, name: &str) -> Option<&str> {
        let value = match name {
            "email" => &self.email,
            "server" => &self.server,
            "other_server" => &self.other_server,
            "gateway" => &self.gateway,
            "project" => &self.project,
            _ => return None,
        };
        Some(value)
    }
}

impl Saved {
    pub fn insert(&mut self, name: &str, value: String) {
        self.values.insert(name.to_owned(), value);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The saved values long enough to be secrets (the ones [`Saved::mask`]
    /// masks by value).
    pub fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.values
            .values()
            .filter(|value| value.len() >= 16)
            .map(String::as_str)
    }

    /// Masks every saved value (and any full credential) in `text`, for
    /// messages, transcripts and `--keep` output. Short values (ids,
    /// counts) are left alone: they are not secrets, and masking them would
    /// garble the message.
    pub fn mask(&self, text: &str) -> String {
        let mut out = mask_link_tokens(&protocol::credential::redact_secrets(text));
        let mut secrets: Vec<&String> = self
            .values
            .values()
            .filter(|value| value.len() >= 16)
            .collect();
        // Longest first, so a value containing another is masked whole.
        secrets.sort_by_key(|value| std::cmp::Reverse(value.len()));
        for secret in secrets {
            out = out.replace(secret.as_str(), &protocol::credential::mask(secret));
        }
        out
    }
}

impl<'a> Substitution<'a> {
    /// The scenario's values and the steps' saved ones.
    pub fn new(values: &'a Placeholders, saved: &'a Saved) -> Substitution<'a> {
        Substitution {
            values,
            saved,
            free_port: None,
        }
    }

    /// The same, with `{free_port}` standing for `port`.
    pub fn with_free_port(self, port: u16) -> Substitution<'a> {
        Substitution {
            free_port: Some(port),
            ..self
        }
    }

    /// `text` with every placeholder replaced; fails naming the first
    /// `{saved.<name>}` no earlier step saved, or one left unclosed.
    pub fn text(&self, text: &str) -> Result<String> {
        const SAVED: &str = "saved.";
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            if let Some(saved) = after.strip_prefix(SAVED) {
                let Some(end) = saved.find('}') else {
                    bail!("unclosed placeholder in {text:?}");
                };
                let name = &saved[..end];
                match self.saved.get(name) {
                    Some(value) => out.push_str(value),
                    None => bail!("{{saved.{name}}} is used, but no earlier step saved {name:?}"),
                }
                rest = &saved[end + 1..];
                continue;
            }
            let known = after.find('}').and_then(|end| {
                let value = self.plain(&after[..end])?;
                Some((value, end))
            });
            match known {
                Some((value, end)) => {
                    out.push_str(&value);
                    rest = &after[end + 1..];
                }
                // Not a placeholder: the brace is text, and what follows
                // it is read again (it may open one).
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A JSON value with every string in it substituted (keys are not).
    pub fn json(&self, value: &serde_json::Value) -> Result<serde_json::Value> {
        Ok(match value {
            serde_json::Value::String(text) => serde_json::Value::String(self.text(text)?),
            serde_json::Value::Array(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|item| self.json(item))
                    .collect::<Result<_>>()?,
            ),
            serde_json::Value::Object(object) => serde_json::Value::Object(
                object
                    .iter()
                    .map(|(key, item)| Ok((key.clone(), self.json(item)?)))
                    .collect::<Result<_>>()?,
            ),
            other => other.clone(),
        })
    }

    /// The value of a `{name}` that is not a saved one.
    fn plain(&self, name: &str) -> Option<String> {
        match (name, self.free_port) {
            ("free_port", Some(port)) => Some(port.to_string()),
            _ => self.values.get(name).map(str::to_owned),
        }
    }
}

/// Masks the value of every `token=` parameter (a deep link's single-use
/// sign-in token, a bearer secret without a prefix) to its first four
/// characters and `***`.
pub fn mask_link_tokens(text: &str) -> String {
    const KEY: &str = "token=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find(KEY) {
        let (before, after) = rest.split_at(position + KEY.len());
        out.push_str(before);
        let length = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(after.len());
        out.push_str(&protocol::credential::mask(&after[..length]));
        rest = &after[length..];
    }
    out.push_str(rest);
    out
}

/// A saved value as text: strings as they are, anything else as JSON.
pub fn saved_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values() -> Placeholders {
        Placeholders {
            email: "e2e-x@example.com".to_owned(),
            server: "http://127.0.0.1:1".to_owned(),
            other_server: String::new(),
            gateway: "http://127.0.0.1:2".to_owned(),
            project: "/tmp/p".to_owned(),
        }
    }

    #[test]
    fn saved_placeholders_are_replaced_and_missing_ones_named() {
        let values = values();
        let mut saved = Saved::default();
        saved.insert("code", "abc".to_owned());
        saved.insert("signup.verifier", "v-123".to_owned());
        let fill = Substitution::new(&values, &saved);
        assert_eq!(
            fill.text("code={saved.code}&code_verifier={saved.signup.verifier}")
                .unwrap(),
            "code=abc&code_verifier=v-123"
        );
        assert_eq!(
            fill.text("plain {email} {id} {}").unwrap(),
            "plain e2e-x@example.com {id} {}"
        );
        let message = fill.text("{saved.token}").unwrap_err().to_string();
        assert!(message.contains("token"), "{message}");
        assert!(fill.text("{saved.code").is_err());
    }

    #[test]
    fn a_free_port_replaces_its_placeholder_only_where_one_was_drawn() {
        let values = values();
        let saved = Saved::default();
        let fill = Substitution::new(&values, &saved);
        assert_eq!(
            fill.with_free_port(4242)
                .text("--callback-port={free_port} {free_port}")
                .unwrap(),
            "--callback-port=4242 4242"
        );
        assert_eq!(
            fill.with_free_port(1).text("no placeholder").unwrap(),
            "no placeholder"
        );
        assert_eq!(fill.text(FREE_PORT).unwrap(), FREE_PORT);
    }

    #[test]
    fn json_strings_are_substituted_and_keys_are_not() {
        let values = values();
        let mut saved = Saved::default();
        saved.insert("n", "7".to_owned());
        let fill = Substitution::new(&values, &saved);
        let body = serde_json::json!({"{email}": ["{email}", 3, {"id": "req-{saved.n}"}]});
        assert_eq!(
            fill.json(&body).unwrap(),
            serde_json::json!({"{email}": ["e2e-x@example.com", 3, {"id": "req-7"}]})
        );
    }

    #[test]
    fn saved_values_and_credentials_are_masked() {
        let mut saved = Saved::default();
        saved.insert("code", "code_ABCDEFGHIJKLMNOPQRSTUVWXYZ".to_owned());
        saved.insert("team", "42".to_owned());
        let message = saved.mask(
            "sent code_ABCDEFGHIJKLMNOPQRSTUVWXYZ for team 42 with pha_AAAAAAAAAAAAAAAAAAAAAAAA",
        );
        assert_eq!(message, "sent code*** for team 42 with pha_***");
        assert_eq!(
            saved.mask(
                r#"{"url":"http://s/agentic/login?token=AbCdEfGhIjKlMnOpQrSt_-9&team_id=4"}"#
            ),
            r#"{"url":"http://s/agentic/login?token=AbCd***&team_id=4"}"#
        );
        assert_eq!(mask_link_tokens("token="), "token=***");
        assert_eq!(saved_text(&serde_json::json!("x")), "x");
        assert_eq!(saved_text(&serde_json::json!(42)), "42");
    }

    /// The two passes the harness made before [`Substitution`]: the
    /// scenario's values replaced one name after the other, then the
    /// saved ones, then the free port.
    fn two_passes(values: &Placeholders, saved: &Saved, port: u16, text: &str) -> Result<String> {
        let text = text
            .replace("{email}", &values.email)
            .replace("{other_server}", &values.other_server)
            .replace("{server}", &values.server)
            .replace("{gateway}", &values.gateway)
            .replace("{project}", &values.project);
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find("{saved.") {
            out.push_str(&rest[..start]);
            let after = &rest[start + "{saved.".len()..];
            let Some(end) = after.find('}') else {
                bail!("unclosed placeholder in {text:?}");
            };
            let name = &after[..end];
            match saved.get(name) {
                Some(value) => out.push_str(value),
                None => bail!("{{saved.{name}}} is used, but no earlier step saved {name:?}"),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out.replace(FREE_PORT, &port.to_string()))
    }

    proptest! {
        /// If this fails, a scenario's request or expectation would read
        /// differently than it did with the two passes it was written for.
        #[test]
        fn one_pass_reads_every_text_as_the_two_passes_did(
            pieces in prop::collection::vec(
                prop::sample::select(vec![
                    "{email}", "{server}", "{other_server}", "{gateway}", "{project}",
                    "{saved.code}", "{saved.a.verifier}", "{saved.", "{saved.missing}",
                    "{free_port}", "{", "}", "{id}", "{}", "saved.", "x", " ", "&",
                ]),
                0..12,
            )
        ) {
            // No value may be empty here: the two passes glued what
            // surrounds an empty one into a new placeholder (`{` +
            // `{other_server}` + `saved.` read as `{saved.`), which the one
            // pass rightly does not.
            let values = Placeholders {
                other_server: "http://127.0.0.1:3".to_owned(),
                ..values()
            };
            let mut saved = Saved::default();
            saved.insert("code", "abc".to_owned());
            saved.insert("a.verifier", "v".to_owned());
            let text = pieces.concat();
            let fill = Substitution::new(&values, &saved).with_free_port(9);
            let old = two_passes(&values, &saved, 9, &text);
            match fill.text(&text) {
                Ok(new) => prop_assert_eq!(Some(new), old.ok(), "{}", text),
                Err(_) => prop_assert!(old.is_err(), "{}", text),
            }
        }
    }
}
