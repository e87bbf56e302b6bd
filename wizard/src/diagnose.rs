//! Honest 401 diagnostics (protocol section 9, seed 003): say the cause the
//! wizard can tell first, in one sentence with its fix, and keep the list
//! of likely causes for when it cannot.

use crate::settings::Conflict;

/// Where the credential sent to the gateway came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeySource {
    /// The access token of this run's signup (the account request's scopes).
    #[default]
    Signup,
    /// The access token of a browser sign-in (the consent's scopes).
    SignIn,
    /// `--api-key` (CI mode): its prefix says what kind of key the person
    /// meant to give.
    GivenKey,
}

/// What the wizard knows when the gateway answers 401.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The prefix of the credential sent (`pha_`, `phx_`, …).
    pub prefix: String,
    /// The gateway's `WWW-Authenticate` header.
    pub www_authenticate: Option<String>,
    /// The `scope` the token endpoint granted, when the wizard minted the
    /// credential itself (signup path).
    pub granted_scope: Option<String>,
    /// Claude Code settings that take over the credentials.
    pub conflicts: Vec<Conflict>,
    pub log_path: String,
    pub source: KeySource,
}

/// The text printed after "Authentication failed (401)".
pub fn explain_401(evidence: &Evidence) -> String {
    let mut out = String::from("Authentication failed (401)\n");
    // The cause the wizard can prove comes first, whatever else it found:
    // a settings conflict is advice added to it, never a replacement.
    if let Some(cause) = known_cause(evidence) {
        out.push_str(&cause);
        out.push('\n');
    }
    if !evidence.conflicts.is_empty() {
        out.push_str("Claude Code auth is conflicting with the wizard:\n");
        for conflict in &evidence.conflicts {
            out.push_str(&format!(
                "  {} sets {}\n",
                conflict.file.display(),
                conflict.keys.join(", ")
            ));
        }
        out.push_str(
            "Remove those settings, or log out with `claude auth logout`, then try again.\n",
        );
    } else {
        out.push_str("Likely causes:\n");
        out.push_str("  - wrong key type: the gateway takes a personal API key (phx_) or the wizard's own OAuth access token (pha_), not a project key (phc_)\n");
        out.push_str("  - missing scope: the key lacks llm_gateway:read\n");
        out.push_str("  - the key has expired or was revoked\n");
        out.push_str("  - region mismatch: the key belongs to the other region (US/EU) than the gateway asked\n");
    }
    out.push_str(&format!("Verbose log: {}\n", evidence.log_path));
    out
}

/// The one cause the evidence proves, if any.
fn known_cause(evidence: &Evidence) -> Option<String> {
    let header = evidence.www_authenticate.as_deref().unwrap_or_default();
    if evidence.prefix == "phc_" {
        return Some("Cause: the key is a project API key (phc_), which only ingests events. Use a personal API key (phx_) with the llm_gateway:read scope.".into());
    }
    if evidence.source == KeySource::GivenKey && evidence.prefix == "pha_" {
        return Some("Cause: --api-key is an OAuth access token (pha_), not a personal API key: access tokens expire after an hour, and one issued to another application lacks llm_gateway:read. Use a personal API key (phx_) with the llm_gateway:read scope.".into());
    }
    if header.contains("insufficient_scope") {
        return Some(match (evidence.source, evidence.granted_scope.as_deref()) {
            (KeySource::SignIn, Some(granted)) if granted.trim().is_empty() => "Cause: the sign-in granted this access token no scopes at all, so it lacks llm_gateway:read. Sign in again and approve llm_gateway:read, or run with --ci and a personal API key (phx_) that has it.".into(),
            (KeySource::SignIn, Some(granted)) => format!("Cause: the sign-in did not grant llm_gateway:read (it granted: {granted}): the consent or the application's scope ceiling left it out. Sign in again and approve llm_gateway:read, or run with --ci and a personal API key (phx_) that has it."),
            (_, Some(granted)) if granted.trim().is_empty() => "Cause: the server granted this signup's access token no scopes at all, so it lacks llm_gateway:read. The server accepted an account request without scopes (April 2026 behaviour); ask for them explicitly with `--scopes signup`, or use a server with the scope fix.".into(),
            (_, Some(granted)) => format!("Cause: the access token lacks llm_gateway:read (the server granted: {granted}). Ask for it with `--scopes signup`."),
            (_, None) => "Cause: the key lacks the llm_gateway:read scope (the gateway said insufficient_scope). Create a personal API key with llm_gateway:read.".into(),
        });
    }
    if header.contains("invalid_token") {
        return Some("Cause: the gateway does not know this key: it is unknown, expired or revoked here, or it belongs to the other region.".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn evidence(prefix: &str, header: Option<&str>, granted: Option<&str>) -> Evidence {
        Evidence {
            prefix: prefix.into(),
            www_authenticate: header.map(str::to_owned),
            granted_scope: granted.map(str::to_owned),
            conflicts: vec![],
            log_path: "/tmp/posthog-wizard.log".into(),
            source: KeySource::Signup,
        }
    }

    #[test]
    fn the_scope_bug_is_named_first() {
        let text = explain_401(&evidence(
            "pha_",
            Some(
                r#"Bearer realm="llm-gateway", error="insufficient_scope", scope="llm_gateway:read""#,
            ),
            Some(""),
        ));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn without_evidence_only_the_generic_list_is_shown() {
        let text = explain_401(&evidence("phx_", None, None));
        assert!(!text.contains("Cause:"), "{text}");
        assert!(text.contains("Likely causes:"));
        assert!(text.contains("region mismatch"));
        assert!(!text.contains("claude auth logout"));
    }

    #[test]
    fn a_settings_conflict_gets_the_logout_advice_and_names_the_file() {
        let mut evidence = evidence("phx_", None, None);
        evidence.conflicts.push(Conflict {
            file: PathBuf::from("/home/ada/.claude/settings.json"),
            keys: vec!["env.ANTHROPIC_BASE_URL".into()],
        });
        let text = explain_401(&evidence);
        assert!(text.contains("claude auth logout"), "{text}");
        assert!(text.contains("/home/ada/.claude/settings.json sets env.ANTHROPIC_BASE_URL"));
    }

    /// If this fails, a settings conflict hides the cause the wizard knows
    /// (seed 003: the advice is added, the cause still comes first).
    #[test]
    fn a_settings_conflict_keeps_the_known_cause_first() {
        let mut evidence = evidence(
            "pha_",
            Some(r#"Bearer error="insufficient_scope", scope="llm_gateway:read""#),
            Some(""),
        );
        evidence.conflicts.push(Conflict {
            file: PathBuf::from("/home/ada/.claude/settings.json"),
            keys: vec!["apiKeyHelper".into()],
        });
        let text = explain_401(&evidence);
        let cause =
            text.find("Cause: the server granted this signup's access token no scopes at all");
        let advice = text.find("claude auth logout");
        assert!(cause.is_some() && advice.is_some(), "{text}");
        assert!(cause < advice, "the cause comes before the advice: {text}");
    }

    #[test]
    fn causes_table() {
        let cases = [
            (evidence("phc_", None, None), "project API key"),
            (
                evidence(
                    "pha_",
                    Some("error=\"insufficient_scope\""),
                    Some("user:read"),
                ),
                "granted: user:read",
            ),
            (
                evidence("phx_", Some("error=\"insufficient_scope\""), None),
                "insufficient_scope",
            ),
            (
                evidence("phx_", Some("error=\"invalid_token\""), None),
                "unknown, expired or revoked",
            ),
        ];
        let mut given_access_token = evidence("pha_", Some("error=\"invalid_token\""), None);
        given_access_token.source = KeySource::GivenKey;
        let cases = cases.into_iter().chain([(
            given_access_token,
            "--api-key is an OAuth access token (pha_)",
        )]);
        for (evidence, needle) in cases {
            let text = explain_401(&evidence);
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }

    #[test]
    fn the_scope_advice_fits_where_the_token_came_from() {
        // (source, granted scope, must contain, must not contain)
        let cases = [
            (KeySource::Signup, "", "--scopes signup", "sign in again"),
            (
                KeySource::Signup,
                "user:read",
                "--scopes signup",
                "sign in again",
            ),
            (
                KeySource::SignIn,
                "",
                "Sign in again and approve llm_gateway:read",
                "--scopes",
            ),
            (
                KeySource::SignIn,
                "user:read project:read",
                "the sign-in did not grant llm_gateway:read (it granted: user:read project:read)",
                "--scopes",
            ),
        ];
        let mut report = String::new();
        for (source, granted, wanted, unwanted) in cases {
            let mut evidence =
                evidence("pha_", Some("error=\"insufficient_scope\""), Some(granted));
            evidence.source = source;
            let text = explain_401(&evidence);
            assert!(text.contains(wanted), "{source:?} {granted:?}: {text}");
            assert!(!text.contains(unwanted), "{source:?} {granted:?}: {text}");
            report.push_str(&format!("=== {source:?}, granted {granted:?}\n{text}\n"));
        }
        insta::assert_snapshot!(report);
    }
}
