//! Claude Code settings that take over the wizard's gateway credentials
//! (protocol section 9, seed 003). Only a real conflict earns the
//! `claude auth logout` advice; otherwise the 401 is about the key.

use std::path::{Path, PathBuf};

/// `env` keys that redirect or replace Claude Code's credentials.
const CONFLICTING_ENV_KEYS: [&str; 6] = [
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
];

/// One settings file that conflicts, and the keys that make it so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub file: PathBuf,
    pub keys: Vec<String>,
}

/// The files to check, in order: user, user-local, project, project-local,
/// managed.
pub fn candidate_files(home: &Path, install_dir: &Path, managed: &Path) -> Vec<PathBuf> {
    vec![
        home.join(".claude/settings.json"),
        home.join(".claude/settings.local.json"),
        install_dir.join(".claude/settings.json"),
        install_dir.join(".claude/settings.local.json"),
        managed.to_path_buf(),
    ]
}

/// Every conflict among `files`. Unreadable or non-JSON files are skipped:
/// Claude Code would ignore them too.
pub fn check(files: &[PathBuf]) -> Vec<Conflict> {
    files
        .iter()
        .filter_map(|file| {
            let text = std::fs::read_to_string(file).ok()?;
            let value: serde_json::Value = serde_json::from_str(&text).ok()?;
            let keys = conflicting_keys(&value);
            (!keys.is_empty()).then(|| Conflict {
                file: file.clone(),
                keys,
            })
        })
        .collect()
}

fn conflicting_keys(settings: &serde_json::Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(env) = settings.get("env").and_then(|env| env.as_object()) {
        for key in env.keys() {
            let conflicting = CONFLICTING_ENV_KEYS.contains(&key.as_str())
                || (key.starts_with("ANTHROPIC_") && key.ends_with("_BASE_URL"))
                || key.starts_with("CLAUDE_CODE_SKIP_") && key.ends_with("_AUTH");
            if conflicting {
                keys.push(format!("env.{key}"));
            }
        }
    }
    let helper = settings
        .get("apiKeyHelper")
        .and_then(|helper| helper.as_str());
    if helper.is_some_and(|helper| !helper.trim().is_empty()) {
        keys.push("apiKeyHelper".into());
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conflicting_keys_table() {
        let cases = [
            (json!({}), vec![]),
            (
                json!({"env": {"ANTHROPIC_BASE_URL": "x"}}),
                vec!["env.ANTHROPIC_BASE_URL"],
            ),
            (
                json!({"env": {"ANTHROPIC_BEDROCK_BASE_URL": "x"}}),
                vec!["env.ANTHROPIC_BEDROCK_BASE_URL"],
            ),
            (
                json!({"env": {"CLAUDE_CODE_SKIP_VERTEX_AUTH": "1"}}),
                vec!["env.CLAUDE_CODE_SKIP_VERTEX_AUTH"],
            ),
            (
                json!({"env": {"EDITOR": "vim", "ANTHROPIC_MODEL": "x"}}),
                vec![],
            ),
            (json!({"apiKeyHelper": "  "}), vec![]),
            (
                json!({"apiKeyHelper": "~/bin/key.sh"}),
                vec!["apiKeyHelper"],
            ),
            (
                json!({"permissions": {"apiKeyHelper": "nested does not count"}}),
                vec![],
            ),
        ];
        for (settings, expected) in cases {
            assert_eq!(conflicting_keys(&settings), expected, "{settings}");
        }
    }

    #[test]
    fn files_are_named_and_broken_ones_skipped() {
        let home = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".claude")).unwrap();
        std::fs::write(
            home.path().join(".claude/settings.json"),
            r#"{"env":{"ANTHROPIC_API_KEY":"x"}}"#,
        )
        .unwrap();
        std::fs::write(home.path().join(".claude/settings.local.json"), "not json").unwrap();
        let files = candidate_files(
            home.path(),
            project.path(),
            Path::new("/nonexistent/managed.json"),
        );
        let conflicts = check(&files);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].file, home.path().join(".claude/settings.json"));
        assert_eq!(conflicts[0].keys, ["env.ANTHROPIC_API_KEY"]);
    }
}
