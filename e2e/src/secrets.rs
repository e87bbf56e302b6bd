//! The leak scan run on every scenario: no full `pha_`, `phr_` or `phx_`
//! may appear in any output, log or journal (protocol section 1).

use protocol::credential::{find_full_secrets, mask};

/// One text that was scanned, with the name a person would open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub label: String,
    pub text: String,
}

/// Prefixes of secrets the harness also looks for beyond the protocol's
/// own (`pha_`, `phr_`, `phx_`): the LLM gateway's tokens.
pub const EXTRA_PREFIXES: [&str; 1] = ["phe_"];

/// A mismatch per source holding full secrets, naming the source and the
/// masked form of each secret (never the secret itself).
pub fn scan(sources: &[Source]) -> Vec<String> {
    let mut mismatches = Vec::new();
    for source in sources {
        let mut found = find_full_secrets(&source.text);
        found.extend(find_extra_secrets(&source.text));
        if found.is_empty() {
            continue;
        }
        let mut masked: Vec<String> = found.iter().map(|secret| mask(secret)).collect();
        masked.dedup();
        mismatches.push(format!(
            "{} holds {} full credential(s): {}",
            source.label,
            found.len(),
            masked.join(", ")
        ));
    }
    mismatches
}

/// Full secrets with one of [`EXTRA_PREFIXES`]: the prefix and at least 16
/// URL-safe characters.
pub fn find_extra_secrets(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in EXTRA_PREFIXES {
        for (start, _) in text.match_indices(prefix) {
            let body = &text[start + prefix.len()..];
            let length = body
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(body.len());
            if length >= 16 {
                found.push(text[start..start + prefix.len() + length].to_owned());
            }
        }
    }
    found
}

/// `text` with every full secret of [`find_extra_secrets`] masked.
pub fn redact_extra_secrets(text: &str) -> String {
    let mut out = text.to_owned();
    for secret in find_extra_secrets(text) {
        out = out.replace(&secret, &mask(&secret));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leak_names_the_file_and_never_prints_the_secret() {
        let secret = "phx_fakeAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let sources = [
            Source {
                label: "server.stderr".to_owned(),
                text: "token pha_*** checked, key phc_public1234567890123456 ok".to_owned(),
            },
            Source {
                label: "logs/posthog-wizard.log".to_owned(),
                text: format!("using key {secret}\n"),
            },
        ];
        let mismatches = scan(&sources);
        assert_eq!(
            mismatches,
            ["logs/posthog-wizard.log holds 1 full credential(s): phx_***"]
        );
        assert!(!mismatches[0].contains(secret));
    }

    #[test]
    fn gateway_tokens_are_found_and_masked_too() {
        let token = "phe_fakeBBBBBBBBBBBBBBBBBBBBBBBB";
        let text = format!("{{\"token\":\"{token}\"}} and phe_short");
        let mismatches = scan(&[Source {
            label: "conformance".to_owned(),
            text: text.clone(),
        }]);
        assert_eq!(
            mismatches,
            ["conformance holds 1 full credential(s): phe_***"]
        );
        assert_eq!(
            redact_extra_secrets(&text),
            "{\"token\":\"phe_***\"} and phe_short"
        );
    }
}
