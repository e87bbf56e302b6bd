//! The frameworks the wizard and the gateway's agent know, in one table:
//! their id, the name a person reads, the env file the public key and host
//! go into, the two variable names, the manifest that declares the SDK, and
//! the SDK package. The wizard's detection rules and the agent's recipes
//! both read this table, so the agent never sets a variable the wizard (or
//! the app) reads under another name.
//!
//! [`resolve`] is the one reading of a framework as harnesses spell it: the
//! wizard's `framework: next-js`, the published wizard's `- Framework:
//! Next.js 15.3.3`, its headers' `integration: nextjs`.

/// Where a framework's dependencies are declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manifest {
    /// `package.json`.
    PackageJson,
    /// `requirements.txt` or `pyproject.toml`.
    Python,
}

/// One framework's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameworkInfo {
    /// The id our wizard names in its `framework: <id>` line.
    pub id: &'static str,
    /// What a person calls it.
    pub name: &'static str,
    /// The env file, relative to the project.
    pub env_file: &'static str,
    /// The variable holding the `phc_` key.
    pub key_variable: &'static str,
    /// The variable holding the host.
    pub host_variable: &'static str,
    pub manifest: Manifest,
    /// The PostHog SDK package the integration adds.
    pub sdk_package: &'static str,
    /// Other spellings harnesses use (letters and digits only, lower case).
    aliases: &'static [&'static str],
}

pub const NEXT_JS: FrameworkInfo = FrameworkInfo {
    id: "next-js",
    name: "Next.js",
    env_file: ".env.local",
    key_variable: "NEXT_PUBLIC_POSTHOG_KEY",
    host_variable: "NEXT_PUBLIC_POSTHOG_HOST",
    manifest: Manifest::PackageJson,
    sdk_package: "posthog-js",
    aliases: &["nextjs", "next"],
};

pub const REACT_VITE: FrameworkInfo = FrameworkInfo {
    id: "react-vite",
    name: "React (Vite)",
    env_file: ".env.local",
    key_variable: "VITE_PUBLIC_POSTHOG_KEY",
    host_variable: "VITE_PUBLIC_POSTHOG_HOST",
    manifest: Manifest::PackageJson,
    sdk_package: "posthog-js",
    aliases: &["reactvite", "vite", "react"],
};

pub const EXPRESS: FrameworkInfo = FrameworkInfo {
    id: "express",
    name: "Express",
    env_file: ".env",
    key_variable: "POSTHOG_API_KEY",
    host_variable: "POSTHOG_HOST",
    manifest: Manifest::PackageJson,
    sdk_package: "posthog-node",
    aliases: &["expressjs", "express", "node", "nodejs"],
};

pub const DJANGO: FrameworkInfo = FrameworkInfo {
    id: "django",
    name: "Django",
    env_file: ".env",
    key_variable: "POSTHOG_API_KEY",
    host_variable: "POSTHOG_HOST",
    manifest: Manifest::Python,
    sdk_package: "posthog",
    aliases: &["django"],
};

pub const FLASK: FrameworkInfo = FrameworkInfo {
    id: "flask",
    name: "Flask",
    env_file: ".env",
    key_variable: "POSTHOG_API_KEY",
    host_variable: "POSTHOG_HOST",
    manifest: Manifest::Python,
    sdk_package: "posthog",
    aliases: &["flask"],
};

/// Every framework, in the order the wizard's detection tries them.
pub const FRAMEWORKS: &[FrameworkInfo] = &[NEXT_JS, REACT_VITE, EXPRESS, DJANGO, FLASK];

/// The framework a harness names, however it spells it: an id (`next-js`),
/// a prompt's name with or without a version (`Next.js 15.3.3`, `React
/// (Vite) 18`), or a header's integration (`nextjs`). Letters and digits
/// are compared without case; the longest known spelling the name starts
/// with wins, so `React (Vite)` is React with Vite and `Next.js` is not
/// `Next`-something else.
pub fn resolve(named: &str) -> Option<&'static FrameworkInfo> {
    let folded = fold(named);
    if folded.is_empty() {
        return None;
    }
    spellings()
        .iter()
        .filter(|(spelling, _)| folded.starts_with(spelling.as_str()))
        .max_by_key(|(spelling, _)| spelling.len())
        .map(|(_, framework)| *framework)
}

/// Every known spelling, folded, with its framework: made once (the
/// gateway resolves a name on every request).
fn spellings() -> &'static [(String, &'static FrameworkInfo)] {
    static SPELLINGS: std::sync::OnceLock<Vec<(String, &'static FrameworkInfo)>> =
        std::sync::OnceLock::new();
    SPELLINGS.get_or_init(|| {
        FRAMEWORKS
            .iter()
            .flat_map(|framework| {
                [fold(framework.id), fold(framework.name)]
                    .into_iter()
                    .chain(framework.aliases.iter().map(|alias| alias.to_string()))
                    .map(move |spelling| (spelling, framework))
            })
            .filter(|(spelling, _)| !spelling.is_empty())
            .collect()
    })
}

/// The framework with this exact id.
pub fn by_id(id: &str) -> Option<&'static FrameworkInfo> {
    FRAMEWORKS.iter().find(|framework| framework.id == id)
}

fn fold(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_a_harness_uses_resolves() {
        let cases: &[(&str, Option<&str>)] = &[
            ("next-js", Some("next-js")),
            ("Next.js 15.3.3", Some("next-js")),
            ("nextjs", Some("next-js")),
            ("react-vite", Some("react-vite")),
            ("React (Vite) 18", Some("react-vite")),
            ("react", Some("react-vite")),
            ("Express 4", Some("express")),
            ("express", Some("express")),
            ("Django 5.1", Some("django")),
            ("flask", Some("flask")),
            ("`flask`", Some("flask")),
            ("Cobol 85", None),
            ("", None),
        ];
        for (named, expected) in cases {
            assert_eq!(
                resolve(named).map(|framework| framework.id),
                *expected,
                "{named:?}: the agent would play another framework's recipe"
            );
        }
        for framework in FRAMEWORKS {
            assert_eq!(by_id(framework.id), Some(framework));
        }
    }
}
