//! Which framework a project uses, and where its env file goes.
//!
//! Every framework the wizard knows is one [`Framework`] value in
//! [`FRAMEWORKS`]: its names from the table the gateway's agent reads too
//! (`protocol::frameworks`), and the rule that recognises it from the
//! project's manifests. Detection tries them in
//! order, so a Next.js project (which also depends on `react`) is Next.js
//! before it could look like React.

use std::collections::BTreeSet;
use std::path::Path;

use protocol::frameworks;

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
    /// The PostHog SDK package the integration adds (npm or Python).
    pub sdk_package: &'static str,
    /// What the project's manifests must name for this framework to match.
    pub detection: Detection,
}

/// The rule that recognises a framework from the project's manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    /// Every one of these packages in `package.json`'s `dependencies` or
    /// `devDependencies`.
    Npm(&'static [&'static str]),
    /// This distribution (normalised: lower case, `-` for `_` and `.`) in
    /// `requirements.txt` or `pyproject.toml`.
    Python(&'static str),
}

pub const NEXT_JS: Framework = Framework::of(&frameworks::NEXT_JS, Detection::Npm(&["next"]));

pub const REACT_VITE: Framework =
    Framework::of(&frameworks::REACT_VITE, Detection::Npm(&["vite", "react"]));

pub const EXPRESS: Framework = Framework::of(&frameworks::EXPRESS, Detection::Npm(&["express"]));

pub const DJANGO: Framework = Framework::of(&frameworks::DJANGO, Detection::Python("django"));

pub const FLASK: Framework = Framework::of(&frameworks::FLASK, Detection::Python("flask"));

impl Framework {
    /// A framework of the shared table (`protocol::frameworks`) with the
    /// rule that detects it.
    const fn of(info: &frameworks::FrameworkInfo, detection: Detection) -> Framework {
        Framework {
            id: info.id,
            name: info.name,
            env_file: info.env_file,
            key_variable: info.key_variable,
            host_variable: info.host_variable,
            sdk_package: info.sdk_package,
            detection,
        }
    }
}

/// Every framework the wizard knows, in the order detection tries them.
pub const FRAMEWORKS: &[Framework] = &[NEXT_JS, REACT_VITE, EXPRESS, DJANGO, FLASK];

/// Detects the framework from the project's `package.json`,
/// `requirements.txt` and `pyproject.toml`.
pub fn detect(project: &Path) -> Result<Framework, String> {
    let manifests = Manifests::read(project)?;
    for framework in FRAMEWORKS {
        let matches = match framework.detection {
            Detection::Npm(packages) => packages
                .iter()
                .all(|package| manifests.npm.contains(*package)),
            Detection::Python(distribution) => manifests.python.contains(distribution),
        };
        if matches {
            return Ok(*framework);
        }
    }
    let found = match manifests.files.is_empty() {
        true => format!(
            "found no package.json, requirements.txt or pyproject.toml in {}",
            project.display()
        ),
        false => format!(
            "{} in {} name no framework the wizard knows",
            manifests.files.join(", "),
            project.display()
        ),
    };
    Err(format!(
        "cannot tell which framework this project uses: {found}. The wizard can integrate {}.",
        known_frameworks()
    ))
}

/// "Next.js (`next` in package.json), …": what a person can act on when
/// detection fails.
pub fn known_frameworks() -> String {
    FRAMEWORKS
        .iter()
        .map(|framework| {
            let rule = match framework.detection {
                Detection::Npm(packages) => format!(
                    "{} in package.json",
                    packages
                        .iter()
                        .map(|package| format!("`{package}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                Detection::Python(distribution) => {
                    format!("`{distribution}` in requirements.txt or pyproject.toml")
                }
            };
            format!("{} ({rule})", framework.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
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

/// What a previous run left in the project: the env file's key and host,
/// and whether the SDK dependency is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingIntegration {
    pub project_api_key: String,
    pub host: Option<String>,
}

/// The integration already in `project`, if any: the framework's env file
/// holds a `phc_` key and the manifests declare the SDK package.
pub fn existing_integration(project: &Path, framework: &Framework) -> Option<ExistingIntegration> {
    let env = std::fs::read_to_string(project.join(framework.env_file)).ok()?;
    let value = |variable: &str| {
        env.lines()
            .find_map(|line| line.strip_prefix(&format!("{variable}=")))
            .map(|value| value.trim().trim_matches('"').to_owned())
    };
    let project_api_key = value(framework.key_variable).filter(|key| key.starts_with("phc_"))?;
    let manifests = Manifests::read(project).ok()?;
    let declared = match framework.detection {
        Detection::Npm(_) => manifests.npm.contains(framework.sdk_package),
        Detection::Python(_) => manifests.python.contains(&normalise(framework.sdk_package)),
    };
    declared.then(|| ExistingIntegration {
        project_api_key,
        host: value(framework.host_variable),
    })
}

/// The package names a project's manifests declare.
#[derive(Debug, Default)]
struct Manifests {
    /// The manifest files that exist, for the error message.
    files: Vec<&'static str>,
    /// `package.json` dependency names, as written.
    npm: BTreeSet<String>,
    /// Python distribution names, normalised.
    python: BTreeSet<String>,
}

impl Manifests {
    fn read(project: &Path) -> Result<Manifests, String> {
        let mut manifests = Manifests::default();
        if let Some(text) = read_optional(project, "package.json")? {
            manifests.files.push("package.json");
            manifests.npm = npm_dependencies(&text)
                .map_err(|error| format!("{}: {error}", project.join("package.json").display()))?;
        }
        if let Some(text) = read_optional(project, "requirements.txt")? {
            manifests.files.push("requirements.txt");
            manifests
                .python
                .extend(text.lines().filter_map(requirement_name));
        }
        if let Some(text) = read_optional(project, "pyproject.toml")? {
            manifests.files.push("pyproject.toml");
            let names = pyproject_dependencies(&text).map_err(|error| {
                format!("{}: {error}", project.join("pyproject.toml").display())
            })?;
            manifests.python.extend(names);
        }
        Ok(manifests)
    }
}

/// A file's text, `None` when it does not exist.
fn read_optional(project: &Path, name: &str) -> Result<Option<String>, String> {
    let path = project.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

fn npm_dependencies(text: &str) -> Result<BTreeSet<String>, String> {
    let manifest: serde_json::Value =
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
    let names = ["dependencies", "devDependencies"]
        .iter()
        .filter_map(|section| manifest.get(section)?.as_object())
        .flat_map(|dependencies| dependencies.keys().cloned())
        .collect();
    Ok(names)
}

/// The normalised distribution name of one requirement line (`Django>=5.0
/// # web` → `django`), `None` for blank lines, comments and options such as
/// `-r base.txt`.
fn requirement_name(line: &str) -> Option<String> {
    let line = line.split('#').next().unwrap_or_default().trim();
    if line.starts_with('-') {
        return None;
    }
    let name: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    match name.is_empty() {
        true => None,
        false => Some(normalise(&name)),
    }
}

/// PEP 503: lower case, runs of `-`, `_` and `.` become one `-`.
fn normalise(name: &str) -> String {
    let mut normalised = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '-' | '_' | '.' if normalised.ends_with('-') => {}
            '-' | '_' | '.' => normalised.push('-'),
            c => normalised.push(c.to_ascii_lowercase()),
        }
    }
    normalised
}

/// The distributions of `pyproject.toml`: PEP 621 `[project] dependencies`
/// and Poetry's `[tool.poetry.dependencies]` keys.
fn pyproject_dependencies(text: &str) -> Result<Vec<String>, String> {
    let document: toml::Table =
        toml::from_str(text).map_err(|error| format!("not valid TOML: {error}"))?;
    let mut names = Vec::new();
    let pep_621 = document
        .get("project")
        .and_then(|project| project.get("dependencies"))
        .and_then(toml::Value::as_array);
    for requirement in pep_621.into_iter().flatten() {
        names.extend(requirement.as_str().and_then(requirement_name));
    }
    let poetry = document
        .get("tool")
        .and_then(|tool| tool.get("poetry"))
        .and_then(|poetry| poetry.get("dependencies"))
        .and_then(toml::Value::as_table);
    for name in poetry.into_iter().flat_map(|table| table.keys()) {
        names.push(normalise(name));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project's files, (relative path, text).
    type ProjectFiles = &'static [(&'static str, &'static str)];
    /// A framework id, or a substring of the detection error.
    type Detected = Result<&'static str, &'static str>;

    /// What detection says for a project holding `files`: the framework's
    /// id, or a substring of the error.
    fn check(label: &str, files: &[(&str, &str)], expected: Result<&str, &str>) {
        let directory = tempfile::tempdir().unwrap();
        for (path, text) in files {
            std::fs::write(directory.path().join(path), text).unwrap();
        }
        check_dir(label, directory.path(), expected);
    }

    fn check_dir(label: &str, project: &Path, expected: Result<&str, &str>) {
        let detected = detect(project);
        match (&detected, expected) {
            (Ok(framework), Ok(id)) => assert_eq!(
                framework.id, id,
                "{label}: the wizard would brief the agent for the wrong framework"
            ),
            (Err(error), Err(needle)) => assert!(
                error.contains(needle),
                "{label}: the error {error:?} should say {needle:?}"
            ),
            _ => panic!("{label}: expected {expected:?}, detected {detected:?}"),
        }
    }

    #[test]
    fn each_fixture_app_is_detected_as_its_framework() {
        let apps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apps");
        for framework in FRAMEWORKS {
            check_dir(framework.id, &apps.join(framework.id), Ok(framework.id));
        }
    }

    #[test]
    fn detection_table() {
        let cases: &[(&str, ProjectFiles, Detected)] = &[
            (
                "next and vite",
                &[(
                    "package.json",
                    r#"{"dependencies":{"next":"15","react":"19"},"devDependencies":{"vite":"6"}}"#,
                )],
                Ok("next-js"),
            ),
            (
                "vite in devDependencies",
                &[(
                    "package.json",
                    r#"{"dependencies":{"react":"19"},"devDependencies":{"vite":"6"}}"#,
                )],
                Ok("react-vite"),
            ),
            (
                "vite without react",
                &[("package.json", r#"{"devDependencies":{"vite":"6"}}"#)],
                Err("name no framework the wizard knows"),
            ),
            (
                "express",
                &[("package.json", r#"{"dependencies":{"express":"^4"}}"#)],
                Ok("express"),
            ),
            (
                "requirement with specifier and comment",
                &[("requirements.txt", "Django>=5.0  # web\n")],
                Ok("django"),
            ),
            (
                "requirement with extras, after comments and options",
                &[(
                    "requirements.txt",
                    "# web\n-r base.txt\n\nFLASK[async]==3.0.3\n",
                )],
                Ok("flask"),
            ),
            (
                "a plugin is not the framework",
                &[("requirements.txt", "django-environ\nFlask_Login\n")],
                Err("name no framework the wizard knows"),
            ),
            (
                "a commented-out requirement",
                &[("requirements.txt", "# django\n")],
                Err("name no framework the wizard knows"),
            ),
            (
                "pyproject PEP 621",
                &[(
                    "pyproject.toml",
                    "[project]\nname = \"x\"\ndependencies = [\"Django~=5.1\"]\n",
                )],
                Ok("django"),
            ),
            (
                "pyproject Poetry",
                &[(
                    "pyproject.toml",
                    "[tool.poetry.dependencies]\npython = \"^3.12\"\nFlask = \"^3\"\n",
                )],
                Ok("flask"),
            ),
            (
                "an express backend beside a Django app",
                &[
                    ("package.json", r#"{"dependencies":{"express":"4"}}"#),
                    ("requirements.txt", "django\n"),
                ],
                Ok("express"),
            ),
            (
                "empty directory",
                &[],
                Err("found no package.json, requirements.txt or pyproject.toml"),
            ),
            (
                "the error lists what the wizard knows",
                &[],
                Err("Next.js (`next` in package.json), React (Vite) (`vite` and `react` in package.json), Express (`express` in package.json), Django (`django` in requirements.txt or pyproject.toml), Flask (`flask` in requirements.txt or pyproject.toml)"),
            ),
            (
                "broken package.json",
                &[("package.json", "{")],
                Err("not valid JSON"),
            ),
            (
                "broken pyproject.toml",
                &[("pyproject.toml", "[project")],
                Err("not valid TOML"),
            ),
        ];
        for (label, files, expected) in cases {
            check(label, files, *expected);
        }
    }

    #[test]
    fn env_file_and_variables_per_framework() {
        let cases = [
            (
                NEXT_JS,
                ".env.local",
                "NEXT_PUBLIC_POSTHOG_KEY",
                "NEXT_PUBLIC_POSTHOG_HOST",
            ),
            (
                REACT_VITE,
                ".env.local",
                "VITE_PUBLIC_POSTHOG_KEY",
                "VITE_PUBLIC_POSTHOG_HOST",
            ),
            (DJANGO, ".env", "POSTHOG_API_KEY", "POSTHOG_HOST"),
            (FLASK, ".env", "POSTHOG_API_KEY", "POSTHOG_HOST"),
            (EXPRESS, ".env", "POSTHOG_API_KEY", "POSTHOG_HOST"),
        ];
        for (framework, file, key, host) in cases {
            assert_eq!(
                (
                    framework.env_file,
                    framework.key_variable,
                    framework.host_variable
                ),
                (file, key, host),
                "{}: the agent's script reads other variables than the wizard writes",
                framework.id
            );
        }
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
