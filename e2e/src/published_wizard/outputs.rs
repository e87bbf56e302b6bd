//! The files a run leaves: each output read back, redacted before it is
//! written under target/e2e/published-wizard/, and scanned afterwards; the
//! temporary directories the published wizard leaves in /tmp.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::secrets;

/// Versions up to 2.73.0 give Claude Code an empty config directory made
/// with this prefix in `/tmp` (not TMPDIR), and leave it behind when killed.
pub const AGENT_CONFIG_DIR_PREFIX: &str = "posthog-wizard-claude-";

/// The `code` of the last `phw-error: {"code": …, "message": …}` line.
pub fn wizard_error_code(stderr: &str) -> Option<String> {
    stderr.lines().rev().find_map(|line| {
        let json = line.trim().strip_prefix("phw-error:")?;
        let value: serde_json::Value = serde_json::from_str(json.trim()).ok()?;
        value.get("code")?.as_str().map(str::to_owned)
    })
}

/// The Claude Code config directories in `/tmp` now.
pub fn agent_config_dirs() -> std::collections::BTreeSet<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return Default::default();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(AGENT_CONFIG_DIR_PREFIX)
        })
        .map(|entry| entry.path())
        .collect()
}

/// Whether the Claude Code config directory `dir` served the project at
/// `project`: Claude Code keeps each session under `projects/<the
/// project's path with every character but an ASCII letter or digit made
/// `-`>`. Another run's directory (a person running the published wizard
/// by hand at the same time) names another project and is left alone.
pub fn agent_config_dir_serves(dir: &Path, project: &Path) -> bool {
    let mangled: String = project
        .to_string_lossy()
        .chars()
        .map(|char| {
            if char.is_ascii_alphanumeric() {
                char
            } else {
                '-'
            }
        })
        .collect();
    dir.join("projects").join(mangled).is_dir()
}

pub fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// `text` with every full credential masked.
pub fn redact(text: &str) -> String {
    protocol::credential::redact_secrets(text)
}

pub fn scan_text(label: &str, text: &str) -> Vec<String> {
    secrets::scan(&[secrets::Source {
        label: label.to_owned(),
        text: text.to_owned(),
    }])
}

pub fn write_redacted(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, redact(text)).with_context(|| format!("cannot write {}", path.display()))
}

/// Every full credential in any file under `dir` (there must be none).
pub fn scan_tree(dir: &Path) -> Result<Vec<String>> {
    let mut leaks = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let text = read_lossy(&path);
                leaks.extend(scan_text(&path.display().to_string(), &text));
            }
        }
    }
    Ok(leaks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_covers_the_gateway_token_too() {
        let text =
            "Bearer phe_AAAAAAAAAAAAAAAAAAAAAAAA and pha_BBBBBBBBBBBBBBBBBBBBBBBB, phc_public1234567890123456";
        let redacted = redact(text);
        assert_eq!(
            redacted,
            "Bearer phe_*** and pha_***, phc_public1234567890123456"
        );
        assert!(protocol::credential::find_full_secrets(&redacted).is_empty());
        let leaks = scan_text("posthog-wizard.log", text);
        assert_eq!(
            leaks,
            ["posthog-wizard.log holds 2 full credential(s): phe_***, pha_***"]
        );
        assert!(leaks
            .iter()
            .all(|leak| !leak.contains("AAAA") && !leak.contains("BBBB")));
    }

    #[test]
    fn only_the_agent_directory_of_our_project_is_ours() {
        let dir = tempfile::tempdir().unwrap();
        let ours = Path::new("/tmp/published-wizard-Ab1.x/project");
        std::fs::create_dir_all(
            dir.path()
                .join("projects/-tmp-rec-h16-2-73-0-next-js-project"),
        )
        .unwrap();
        assert!(!agent_config_dir_serves(dir.path(), ours), "another run's");
        std::fs::create_dir_all(
            dir.path()
                .join("projects/-tmp-published-wizard-Ab1-x-project"),
        )
        .unwrap();
        assert!(agent_config_dir_serves(dir.path(), ours));
        let fresh = tempfile::tempdir().unwrap();
        assert!(
            !agent_config_dir_serves(fresh.path(), ours),
            "no session yet"
        );
    }

    #[test]
    fn the_wizard_error_code_is_read_from_its_structured_line() {
        let cases = [
            ("", None),
            ("plain failure\n", None),
            (
                "  }\n}\nphw-error: {\"code\":\"PHW_GATEWAY_MINT_REFUSED\",\"message\":\"x\"}\n",
                Some("PHW_GATEWAY_MINT_REFUSED"),
            ),
            ("phw-error: not json\n", None),
        ];
        for (stderr, code) in cases {
            assert_eq!(wizard_error_code(stderr).as_deref(), code, "{stderr:?}");
        }
    }
}
