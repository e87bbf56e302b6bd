//! Which framework a project uses, and where its env file goes.

use std::path::Path;

/// A framework the wizard knows how to integrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framework {
    /// The id sent to the agent (`framework: <id>`).
    pub id: &'static str,
    pub name: &'static str,
    /// The env file the wizard writes, relative to the project.
    pub env_file: &'static str,
    /// The env variable names for the project key and host.
    pub key_variable: &'static str,
    pub host_variable: &'static str,
}

pub const NEXT_JS: Framework = Framework {
    id: "next-js",
    name: "Next.js",
    env_file: ".env.local",
    key_variable: "NEXT_PUBLIC_POSTHOG_KEY",
    host_variable: "NEXT_PUBLIC_POSTHOG_HOST",
};

/// Detects the framework from the project's files.
pub fn detect(project: &Path) -> Result<Framework, String> {
    let package = project.join("package.json");
    let Ok(text) = std::fs::read_to_string(&package) else {
        return Err(format!(
            "no package.json in {}: the wizard can integrate Next.js projects for now",
            project.display()
        ));
    };
    let manifest: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| format!("{} is not valid JSON: {error}", package.display()))?;
    let has = |name: &str| {
        ["dependencies", "devDependencies"].iter().any(|section| {
            manifest
                .get(section)
                .and_then(|deps| deps.get(name))
                .is_some()
        })
    };
    if has("next") {
        return Ok(NEXT_JS);
    }
    Err(format!(
        "{} does not depend on `next`: the wizard can integrate Next.js projects for now",
        package.display()
    ))
}

/// The env file with the project key and host, merged into any existing
/// content (other variables are kept; ours are replaced).
pub fn env_file_content(
    existing: Option<&str>,
    framework: &Framework,
    key: &str,
    host: &str,
) -> String {
    let mut lines: Vec<String> = existing
        .unwrap_or_default()
        .lines()
        .filter(|line| {
            !line.starts_with(&format!("{}=", framework.key_variable))
                && !line.starts_with(&format!("{}=", framework.host_variable))
        })
        .map(str::to_owned)
        .collect();
    lines.push(format!("{}={key}", framework.key_variable));
    lines.push(format!("{}={host}", framework.host_variable));
    let mut content = lines.join("\n");
    content.push('\n');
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_next_and_refuses_others() {
        let directory = tempfile::tempdir().unwrap();
        assert!(detect(directory.path())
            .unwrap_err()
            .contains("no package.json"));
        std::fs::write(
            directory.path().join("package.json"),
            r#"{"dependencies":{"react":"19"}}"#,
        )
        .unwrap();
        assert!(detect(directory.path())
            .unwrap_err()
            .contains("does not depend on `next`"));
        std::fs::write(
            directory.path().join("package.json"),
            r#"{"dependencies":{"next":"15"}}"#,
        )
        .unwrap();
        assert_eq!(detect(directory.path()).unwrap(), NEXT_JS);
    }

    #[test]
    fn env_file_keeps_other_variables() {
        let merged = env_file_content(
            Some("A=1\nNEXT_PUBLIC_POSTHOG_KEY=old\n"),
            &NEXT_JS,
            "phc_new",
            "http://h",
        );
        assert_eq!(
            merged,
            "A=1\nNEXT_PUBLIC_POSTHOG_KEY=phc_new\nNEXT_PUBLIC_POSTHOG_HOST=http://h\n"
        );
    }
}
