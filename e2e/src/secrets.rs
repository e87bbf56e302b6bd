//! The leak scan run on every scenario: no full `pha_`, `phr_` or `phx_`
//! may appear in any output, log or journal (protocol section 1).

use protocol::credential::{find_full_secrets, mask};

/// One text that was scanned, with the name a person would open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub label: String,
    pub text: String,
}

/// A mismatch per source holding full secrets, naming the source and the
/// masked form of each secret (never the secret itself).
pub fn scan(sources: &[Source]) -> Vec<String> {
    let mut mismatches = Vec::new();
    for source in sources {
        let found = find_full_secrets(&source.text);
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

    /// The conformance run writes gateway-token answers: a full `phe_` is a
    /// leak too.
    #[test]
    fn gateway_tokens_are_found_too() {
        let mismatches = scan(&[Source {
            label: "conformance".to_owned(),
            text: "{\"token\":\"phe_fakeBBBBBBBBBBBBBBBBBBBBBBBB\"} and phe_short".to_owned(),
        }]);
        assert_eq!(
            mismatches,
            ["conformance holds 1 full credential(s): phe_***"]
        );
    }
}
