//! The scenario file format (`fixtures/scenarios/*.toml`).
//!
//! A scenario starts a provisioning server with a behaviour profile (and
//! optionally a seed), a gateway pointed at it, runs the wizard once against
//! a fresh copy of a sample app, and states what should be observed.
//! Every table denies unknown keys, so a typo is an error that names the key
//! and the file instead of an expectation silently not checked.
//!
//! After the services start, the `[wizard]` (when given) runs, then the
//! `[[steps]]` in order: raw HTTP requests, signed or not, clock advances,
//! gateway messages, browser steps, more wizard runs and server restarts
//! ([`crate::steps`]). A scenario has a wizard, steps, or both;
//! wizard steps without a `[wizard]` name their app in `[project]`.
//! `[expect]` checks what the wizard left (the exit code of the last run,
//! the output of every run, the project as set up against the end) and the
//! services' state; each step checks its own answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::placeholders::{Placeholders, Saved, Substitution};
use crate::project::check_relative;
use crate::steps::Step;

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Must equal the file name without `.toml`.
    pub name: String,
    /// One line, shown by `e2e list`.
    pub description: String,
    pub server: ServerSetup,
    /// A second provisioning server, usually of the other region (its own
    /// database; the same admin token), reachable as `{other_server}`: for
    /// a key that lives in one region and is tried in the other. The
    /// gateway still asks the main server.
    #[serde(default)]
    pub other_server: Option<ServerSetup>,
    #[serde(default)]
    pub gateway: GatewaySetup,
    /// The wizard run; equivalent to one wizard step before `steps`.
    #[serde(default)]
    pub wizard: Option<WizardRun>,
    /// The project of a scenario whose wizard runs are all steps.
    #[serde(default)]
    pub project: Option<ProjectSetup>,
    /// Run in order after the wizard (see [`crate::steps`]).
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default)]
    pub expect: Expect,
}

/// How the provisioning server is started.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSetup {
    /// `legacy`, `current`, or a profile file relative to the fixtures directory.
    pub profile: String,
    /// A seed file relative to the fixtures directory.
    #[serde(default)]
    pub seed: Option<String>,
    /// `us` (default) or `eu`.
    #[serde(default = "default_region")]
    pub region: String,
    /// Starts the server with `--frozen-clock`: its clock stands still
    /// except for `advance_clock` steps, so a duration it quotes
    /// (`Retry-After`, `RateLimit-Reset`) is the same on every run.
    #[serde(default)]
    pub frozen_clock: bool,
}

/// How the gateway is started.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySetup {
    /// `us` (default) or `eu`: the region the gateway serves. A gateway
    /// whose region differs from the server's refuses that server's
    /// credentials (`wrong_region`).
    #[serde(default = "default_region")]
    pub region: String,
    /// The introspection endpoint's full URL (default: the scenario's
    /// server). Takes the `{server}` placeholder; a closed port such as
    /// `http://127.0.0.1:9/oauth/introspect` simulates an outage.
    #[serde(default)]
    pub introspection_url: Option<String>,
    /// Faults the gateway injects from the start, in its `--fault` syntax:
    /// `status=529,count=2`, `status=429,retry_after=1`, `latency=50..200`,
    /// `drop,count=1`, `truncate`, `cut_stream`.
    #[serde(default)]
    pub faults: Vec<String>,
    /// Seed of the gateway's fault generator (probabilities, latency ranges).
    #[serde(default)]
    pub fault_seed: u64,
    /// A directory of agent scripts (`<framework>.toml`) relative to the
    /// fixtures directory, passed as `--agent-dir`, e.g. a hostile agent.
    #[serde(default)]
    pub agent_dir: Option<String>,
}

impl Default for GatewaySetup {
    fn default() -> Self {
        GatewaySetup {
            region: default_region(),
            introspection_url: None,
            faults: Vec::new(),
            fault_seed: 0,
            agent_dir: None,
        }
    }
}

/// The wizard run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WizardRun {
    /// A directory under `fixtures/apps/`, copied as the project.
    pub app: String,
    /// Arguments; placeholders `{email}`, `{server}`, `{gateway}`,
    /// `{project}` are replaced. The harness adds `--install-dir`,
    /// `--base-url` and `--gateway-url` unless the arguments already hold them.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables (values take placeholders too).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Seconds before the wizard is killed and the scenario fails.
    #[serde(default = "default_wizard_timeout")]
    pub timeout_seconds: u64,
    /// Files written verbatim into the wizard's HOME before the run, such
    /// as `".claude/settings.json"`. Paths are relative and stay inside.
    #[serde(default)]
    pub home_files: BTreeMap<String, String>,
    /// Files written verbatim into the copied project (replacing the app's
    /// own) before the "before" manifest is taken, so `untouched` compares
    /// against the project as the scenario set it up.
    #[serde(default)]
    pub project_files: BTreeMap<String, String>,
}

/// The project when the wizard runs only as steps: `[wizard]`'s set-up
/// keys without a run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSetup {
    /// A directory under `fixtures/apps/`, copied as the project.
    pub app: String,
    /// As `[wizard] home_files`.
    #[serde(default)]
    pub home_files: BTreeMap<String, String>,
    /// As `[wizard] project_files`.
    #[serde(default)]
    pub project_files: BTreeMap<String, String>,
}

/// What should be observed. Only what is written is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub exit_code: Option<i32>,
    /// Substrings of the wizard's stdout and stderr together.
    #[serde(default)]
    pub output_contains: Vec<String>,
    #[serde(default)]
    pub output_lacks: Vec<String>,
    pub project: Option<ProjectExpectation>,
    /// Paths relative to the project that did not exist before the run.
    #[serde(default)]
    pub files_created: Vec<String>,
    /// Paths relative to the project that existed and now differ.
    #[serde(default)]
    pub files_changed: Vec<String>,
    /// Path relative to the project → substrings it must contain.
    #[serde(default)]
    pub file_contains: BTreeMap<String, Vec<String>>,
    pub server: Option<ServerExpect>,
    pub gateway: Option<GatewayExpect>,
    /// Paths that must not exist after the run: relative to the scenario's
    /// scratch directory (the project's parent, so `outside.txt` is what a
    /// `../outside.txt` from the project would create), or absolute.
    #[serde(default)]
    pub absent: Vec<String>,
}

/// The state of the project directory after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectExpectation {
    /// Byte-identical to the copy taken before the run.
    Untouched,
    /// Everything the app's checklist `fixtures/apps/<app>.integrated.toml`
    /// lists (see [`crate::integrated`]): the SDK dependency, the
    /// initialisation code, the `phc_` key and host in the env file.
    Integrated,
}

/// Fields compared with the server's `GET /_admin/state`; the names are
/// those of `protocol::admin::StateSummary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerExpect {
    pub users: Option<i64>,
    pub organizations: Option<i64>,
    pub teams: Option<i64>,
    pub authorization_codes: Option<i64>,
    pub access_tokens: Option<i64>,
    pub refresh_tokens: Option<i64>,
    pub personal_api_keys: Option<i64>,
    pub personal_api_key_scopes: Option<Vec<String>>,
    pub access_token_scopes: Option<Vec<String>>,
    /// Scopes every access token holds (among others): for grants too
    /// long to spell out, such as a ceiling filled in for a scopeless
    /// request. There must be at least one token.
    #[serde(default)]
    pub access_token_scopes_include: Vec<String>,
    /// Entries in the server's request journal (`GET /_admin/journal`):
    /// the wizard's requests and the gateway's introspection calls (admin
    /// routes are not journaled). `0` means nothing reached the server.
    pub requests: Option<usize>,
}

/// Checks on the gateway's journal verdicts (entries without a verdict,
/// such as health checks, are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayExpect {
    /// The exact sequence of verdicts.
    pub verdicts: Option<Vec<String>>,
    /// Verdicts that must each appear at least once.
    #[serde(default)]
    pub verdicts_include: Vec<String>,
    /// At least one verdict, and every verdict equal to this one.
    pub verdicts_all: Option<String>,
}

impl Scenario {
    /// Parses scenario text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Scenario> {
        let scenario: Scenario = toml::from_str(text)
            .with_context(|| format!("invalid scenario file {}", origin.display()))?;
        let stem = origin.file_stem().and_then(|stem| stem.to_str());
        if let Some(stem) = stem {
            if stem != scenario.name {
                bail!(
                    "scenario file {} declares name {:?}; the name must equal the file name",
                    origin.display(),
                    scenario.name
                );
            }
        }
        if scenario.description.contains('\n') {
            bail!(
                "scenario file {}: description must be one line",
                origin.display()
            );
        }
        scenario.check_steps(origin)?;
        if let Some(agent_dir) = &scenario.gateway.agent_dir {
            check_relative(agent_dir).with_context(|| {
                format!(
                    "scenario file {}: [gateway] agent_dir {agent_dir:?}",
                    origin.display()
                )
            })?;
        }
        let (section, home_files, project_files) = match (&scenario.wizard, &scenario.project) {
            (Some(_), Some(_)) => bail!(
                "scenario file {}: give [wizard] or [project], not both ([wizard] sets up the project itself)",
                origin.display()
            ),
            (Some(wizard), None) => ("[wizard]", &wizard.home_files, &wizard.project_files),
            (None, Some(project)) => ("[project]", &project.home_files, &project.project_files),
            (None, None) => return Ok(scenario),
        };
        for (table, files) in [("home_files", home_files), ("project_files", project_files)] {
            for path in files.keys() {
                check_relative(path).with_context(|| {
                    format!(
                        "scenario file {}: {section} {table} key {path:?}",
                        origin.display()
                    )
                })?;
            }
        }
        Ok(scenario)
    }

    /// Each step's own rules, and nothing that needs a wizard without one.
    fn check_steps(&self, origin: &Path) -> Result<()> {
        for (index, step) in self.steps.iter().enumerate() {
            step.validate().with_context(|| {
                format!(
                    "scenario file {}: step {} ({})",
                    origin.display(),
                    index + 1,
                    step.label()
                )
            })?;
        }
        self.check_wizard_steps()
            .with_context(|| format!("scenario file {}", origin.display()))?;
        if self.wizard.is_none() && self.steps.is_empty() {
            bail!(
                "scenario file {}: give a [wizard] table, [[steps]], or both",
                origin.display()
            );
        }
        let has_run = self.wizard.is_some()
            || self
                .steps
                .iter()
                .any(|step| matches!(step, Step::Wizard(_)));
        let has_project = self.wizard.is_some() || self.project.is_some();
        let expect = &self.expect;
        let needs_run = [
            ("exit_code", expect.exit_code.is_some()),
            ("output_contains", !expect.output_contains.is_empty()),
            ("output_lacks", !expect.output_lacks.is_empty()),
        ];
        let needs_project = [
            ("project", expect.project.is_some()),
            ("files_created", !expect.files_created.is_empty()),
            ("files_changed", !expect.files_changed.is_empty()),
            ("file_contains", !expect.file_contains.is_empty()),
        ];
        for (key, given) in needs_run {
            if given && !has_run {
                bail!(
                    "scenario file {}: [expect] {key} checks the wizard's run, but the scenario has no [wizard] and no wizard step",
                    origin.display()
                );
            }
        }
        for (key, given) in needs_project {
            if given && !has_project {
                bail!(
                    "scenario file {}: [expect] {key} checks the project, but the scenario has no [wizard] and no [project]",
                    origin.display()
                );
            }
        }
        Ok(())
    }

    /// Wizard steps in a sensible order: a project to run in, one
    /// background run at a time, its output read and its end awaited while
    /// it runs.
    fn check_wizard_steps(&self) -> Result<()> {
        let has_project = self.wizard.is_some() || self.project.is_some();
        let mut background: Option<usize> = None;
        for (index, step) in self.steps.iter().enumerate() {
            let title = format!("step {} ({})", index + 1, step.label());
            match step {
                Step::Wizard(run) => {
                    if !has_project {
                        bail!("{title}: a wizard step needs a project: add [project] app = \"…\" (or a [wizard])");
                    }
                    if let Some(started) = background {
                        bail!("{title}: the background wizard of step {started} is still running; add a `wizard_wait` step before this one");
                    }
                    if run.background {
                        background = Some(index + 1);
                    }
                }
                Step::WizardOutput(_) | Step::WizardWait(_) if background.is_none() => {
                    bail!("{title}: no background wizard is running here (a `wizard` step with `background = true` comes first)")
                }
                Step::WizardWait(_) => background = None,
                _ => {}
            }
        }
        if let Some(started) = background {
            bail!("the background wizard of step {started} is never waited for: add a `wizard_wait` step");
        }
        Ok(())
    }

    /// The app copied as the project, with its set-up files: the
    /// `[wizard]`'s or the `[project]`'s.
    pub fn project_setup(&self) -> Option<ProjectSetup> {
        match (&self.wizard, &self.project) {
            (Some(wizard), _) => Some(ProjectSetup {
                app: wizard.app.clone(),
                home_files: wizard.home_files.clone(),
                project_files: wizard.project_files.clone(),
            }),
            (None, project) => project.clone(),
        }
    }

    /// Reads and parses one file.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario file {}", path.display()))?;
        Scenario::parse(&text, path)
    }

    /// The wizard's final argument list: the scenario's, with placeholders
    /// replaced, then the harness's wiring flags the scenario did not give.
    /// The `[wizard]` runs before any step, so nothing is saved yet: a
    /// `{saved.<name>}` here is an error naming it.
    pub fn wizard_args(&self, values: &Placeholders) -> Result<Vec<String>> {
        let Some(wizard) = &self.wizard else {
            return Ok(Vec::new());
        };
        let saved = Saved::default();
        let fill = Substitution::new(values, &saved);
        let args = wizard
            .args
            .iter()
            .map(|arg| fill.text(arg))
            .collect::<Result<_>>()?;
        Ok(wire_wizard_args(args, values))
    }

    /// The wizard's extra environment, placeholders replaced.
    pub fn wizard_env(&self, values: &Placeholders) -> Result<BTreeMap<String, String>> {
        let Some(wizard) = &self.wizard else {
            return Ok(BTreeMap::new());
        };
        let saved = Saved::default();
        let fill = Substitution::new(values, &saved);
        wizard
            .env
            .iter()
            .map(|(key, value)| Ok((key.clone(), fill.text(value)?)))
            .collect()
    }

    /// The gateway's `--introspection-url`: the scenario's (with `{server}`
    /// replaced), else the server's own endpoint.
    pub fn introspection_url(&self, server_url: &str) -> String {
        match &self.gateway.introspection_url {
            Some(url) => url.replace("{server}", server_url),
            None => format!("{server_url}{}", protocol::paths::INTROSPECT),
        }
    }

    /// The `--profile` value for the server: a built-in name as is, a file
    /// resolved against the fixtures directory.
    pub fn profile_argument(&self, fixtures: &Path) -> String {
        self.profile_argument_of(&self.server, fixtures)
    }

    /// `--profile` for one of the scenario's servers.
    pub fn profile_argument_of(&self, setup: &ServerSetup, fixtures: &Path) -> String {
        // A bare name is an era the server embeds (`legacy`, `allowlist`,
        // `ceilings`, `current`); anything path-like is a profile file.
        let profile = setup.profile.as_str();
        match profile.contains('/') || profile.ends_with(".toml") {
            false => profile.to_owned(),
            true => fixtures.join(profile).display().to_string(),
        }
    }

    /// The seed file, resolved against the fixtures directory.
    pub fn seed_path(&self, fixtures: &Path) -> Option<PathBuf> {
        self.server.seed.as_ref().map(|seed| fixtures.join(seed))
    }

    /// The `[other_server]`'s seed file, if it has one.
    pub fn other_seed_path(&self, fixtures: &Path) -> Option<PathBuf> {
        let other = self.other_server.as_ref()?;
        other.seed.as_ref().map(|seed| fixtures.join(seed))
    }
}

/// A wizard's arguments (placeholders already replaced) with the
/// harness's wiring flags they do not give: `--install-dir`, `--base-url`,
/// `--gateway-url`.
pub fn wire_wizard_args(mut args: Vec<String>, values: &Placeholders) -> Vec<String> {
    let wiring = [
        ("--install-dir", values.project.clone()),
        ("--base-url", values.server.clone()),
        ("--gateway-url", format!("{}/wizard", values.gateway)),
    ];
    fn gives(args: &[String], flag: &str) -> bool {
        args.iter()
            .any(|arg| arg == flag || arg.starts_with(&format!("{flag}=")))
    }
    // A run that names the two regions' servers is testing region
    // discovery: pinning everything with --base-url would defeat it.
    let regions_given = gives(&args, "--us-base-url") || gives(&args, "--eu-base-url");
    for (flag, value) in wiring {
        if flag == "--base-url" && regions_given {
            continue;
        }
        if !gives(&args, flag) {
            args.push(flag.to_owned());
            args.push(value);
        }
    }
    args
}

/// Every `*.toml` under `dir`, parsed, sorted by name. Fails on the first
/// file that does not parse.
pub fn load_all(dir: &Path) -> Result<Vec<Scenario>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read scenario directory {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    let mut scenarios = Vec::with_capacity(paths.len());
    for path in paths {
        scenarios.push(Scenario::load(&path)?);
    }
    scenarios.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(scenarios)
}

fn default_region() -> String {
    "us".to_owned()
}

fn default_wizard_timeout() -> u64 {
    60
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "good"
description = "A scenario that parses."

[server]
profile = "legacy"

[wizard]
app = "next-js"
args = ["--signup", "--email", "{email}", "--scopes", "none"]
env = { POSTHOG_WIZARD_DEBUG = "1", EXTRA = "{server}/x" }

[expect]
exit_code = 3
output_contains = ["Authentication failed (401)"]
project = "untouched"

[expect.server]
users = 1
access_token_scopes = [""]

[expect.gateway]
verdicts = ["insufficient_scope"]
"#;

    fn values() -> Placeholders {
        Placeholders {
            email: "e2e-good@example.com".to_owned(),
            server: "http://127.0.0.1:1".to_owned(),
            other_server: "http://127.0.0.1:3".to_owned(),
            gateway: "http://127.0.0.1:2".to_owned(),
            project: "/tmp/p".to_owned(),
        }
    }

    #[test]
    fn naming_the_regions_servers_leaves_base_url_out() {
        let values = values();
        let wired = wire_wizard_args(
            vec![
                "--ci".into(),
                "--us-base-url".into(),
                "{other_server}".into(),
            ],
            &values,
        );
        assert!(!wired.contains(&"--base-url".to_owned()), "{wired:?}");
        assert!(wired.contains(&"--install-dir".to_owned()));
        assert!(wired.contains(&"--gateway-url".to_owned()));
        let pinned = wire_wizard_args(vec!["--signup".into()], &values);
        assert!(pinned.contains(&"--base-url".to_owned()));
        assert_eq!(
            Substitution::new(&values, &Saved::default())
                .text("{other_server}|{server}")
                .unwrap(),
            "http://127.0.0.1:3|http://127.0.0.1:1"
        );
    }

    #[test]
    fn an_other_server_table_parses_and_refuses_unknown_keys() {
        let text = GOOD.replace(
            "[server]",
            "[other_server]\nprofile = \"current\"\nregion = \"eu\"\n\n[server]",
        );
        let scenario = Scenario::parse(&text, Path::new("scenarios/good.toml")).unwrap();
        let other = scenario.other_server.as_ref().unwrap();
        assert_eq!(
            (other.profile.as_str(), other.region.as_str()),
            ("current", "eu")
        );
        let bad = GOOD.replace(
            "[server]",
            "[other_server]\nprofile = \"current\"\nport = 1\n\n[server]",
        );
        let error = format!(
            "{:#}",
            Scenario::parse(&bad, Path::new("scenarios/good.toml")).unwrap_err()
        );
        assert!(error.contains("port"), "{error}");
    }

    #[test]
    fn a_good_file_parses_with_defaults() {
        let scenario = Scenario::parse(GOOD, Path::new("scenarios/good.toml")).unwrap();
        assert_eq!(scenario.server.profile, "legacy");
        assert_eq!(scenario.server.region, "us");
        assert_eq!(scenario.server.seed, None);
        assert!(!scenario.server.frozen_clock);
        let frozen = GOOD.replace("[server]", "[server]\nfrozen_clock = true");
        let frozen = Scenario::parse(&frozen, Path::new("scenarios/good.toml")).unwrap();
        assert!(frozen.server.frozen_clock);
        assert_eq!(scenario.wizard.as_ref().unwrap().timeout_seconds, 60);
        assert!(scenario.steps.is_empty());
        assert_eq!(scenario.expect.exit_code, Some(3));
        assert_eq!(scenario.expect.project, Some(ProjectExpectation::Untouched));
        let server = scenario.expect.server.unwrap();
        assert_eq!(server.users, Some(1));
        assert_eq!(server.access_token_scopes, Some(vec![String::new()]));
        assert_eq!(server.personal_api_keys, None);
        assert_eq!(
            scenario.expect.gateway.unwrap().verdicts,
            Some(vec!["insufficient_scope".to_owned()])
        );
    }

    #[test]
    fn an_unknown_key_is_rejected_naming_the_key_and_the_file() {
        let cases = [
            (
                "name = \"good\"\n",
                "name = \"good\"\nnmae = \"x\"\n",
                "nmae",
            ),
            ("[server]\n", "[server]\nprofle = \"x\"\n", "profle"),
            ("[expect]\n", "[expect]\nexit = 1\n", "exit"),
            ("[expect.server]\n", "[expect.server]\nuser = 1\n", "user"),
            (
                "[expect.gateway]\n",
                "[expect.gateway]\nverdict = []\n",
                "verdict",
            ),
            ("[wizard]\n", "[wizard]\nargz = []\n", "argz"),
        ];
        for (anchor, replacement, key) in cases {
            let text = GOOD.replacen(anchor, replacement, 1);
            assert_ne!(text, GOOD, "anchor {anchor:?} not found");
            let error =
                Scenario::parse(&text, Path::new("fixtures/scenarios/good.toml")).expect_err(key);
            let message = format!("{error:#}");
            assert!(message.contains(key), "{message}");
            assert!(
                message.contains("fixtures/scenarios/good.toml"),
                "{message}"
            );
        }
    }

    #[test]
    fn an_unknown_project_expectation_is_rejected() {
        let text = GOOD.replace("project = \"untouched\"", "project = \"pristine\"");
        let message = format!(
            "{:#}",
            Scenario::parse(&text, Path::new("good.toml")).unwrap_err()
        );
        assert!(message.contains("pristine"), "{message}");
    }

    #[test]
    fn the_name_must_match_the_file() {
        let message = format!(
            "{:#}",
            Scenario::parse(GOOD, Path::new("other.toml")).unwrap_err()
        );
        assert!(message.contains("other.toml"), "{message}");
    }

    #[test]
    fn placeholders_are_replaced_and_wiring_flags_added() {
        let scenario = Scenario::parse(GOOD, Path::new("good.toml")).unwrap();
        let args = scenario.wizard_args(&values()).unwrap();
        assert_eq!(
            args,
            [
                "--signup",
                "--email",
                "e2e-good@example.com",
                "--scopes",
                "none",
                "--install-dir",
                "/tmp/p",
                "--base-url",
                "http://127.0.0.1:1",
                "--gateway-url",
                "http://127.0.0.1:2/wizard",
            ]
        );
        let env = scenario.wizard_env(&values()).unwrap();
        assert_eq!(env["EXTRA"], "http://127.0.0.1:1/x");
        assert_eq!(env["POSTHOG_WIZARD_DEBUG"], "1");
    }

    #[test]
    fn wiring_flags_the_scenario_gives_are_not_added_twice() {
        let text = GOOD.replace(
            "\"--scopes\", \"none\"]",
            "\"--scopes\", \"none\", \"--gateway-url={server}/nowhere\"]",
        );
        let scenario = Scenario::parse(&text, Path::new("good.toml")).unwrap();
        let args = scenario.wizard_args(&values()).unwrap();
        assert!(args.contains(&"--gateway-url=http://127.0.0.1:1/nowhere".to_owned()));
        assert_eq!(
            args.iter()
                .filter(|arg| arg.starts_with("--gateway-url"))
                .count(),
            1
        );
        assert!(args.contains(&"--base-url".to_owned()));
    }

    #[test]
    fn gateway_region_and_introspection_url_parse() {
        let scenario = Scenario::parse(GOOD, Path::new("good.toml")).unwrap();
        assert_eq!(scenario.gateway, GatewaySetup::default());
        assert_eq!(
            scenario.introspection_url("http://127.0.0.1:1"),
            format!("http://127.0.0.1:1{}", protocol::paths::INTROSPECT)
        );
        let with_gateway =
            |table: &str| GOOD.replace("[wizard]\n", &format!("{table}\n[wizard]\n"));
        let text = with_gateway(
            "[gateway]\nregion = \"eu\"\nintrospection_url = \"http://127.0.0.1:9/oauth/introspect\"\n",
        );
        let scenario = Scenario::parse(&text, Path::new("good.toml")).unwrap();
        assert_eq!(scenario.gateway.region, "eu");
        assert_eq!(
            scenario.introspection_url("http://127.0.0.1:1"),
            "http://127.0.0.1:9/oauth/introspect"
        );
        let text = with_gateway("[gateway]\nintrospection_url = \"{server}/elsewhere\"\n");
        let scenario = Scenario::parse(&text, Path::new("good.toml")).unwrap();
        assert_eq!(
            scenario.introspection_url("http://127.0.0.1:1"),
            "http://127.0.0.1:1/elsewhere"
        );
        let typo = with_gateway("[gateway]\nintrospection = \"x\"\n");
        let message = format!(
            "{:#}",
            Scenario::parse(&typo, Path::new("good.toml")).unwrap_err()
        );
        assert!(message.contains("introspection"), "{message}");
    }

    #[test]
    fn home_and_project_files_parse() {
        let text = GOOD.replace(
            "[expect]\n",
            r#"home_files = { ".claude/settings.json" = '''{"env":{"ANTHROPIC_BASE_URL":"http://x"}}''' }
project_files = { "package.json" = "{}" }

[expect]
"#,
        );
        let scenario = Scenario::parse(&text, Path::new("good.toml")).unwrap();
        let wizard = scenario.wizard.unwrap();
        assert_eq!(
            wizard.home_files[".claude/settings.json"],
            r#"{"env":{"ANTHROPIC_BASE_URL":"http://x"}}"#
        );
        assert_eq!(wizard.project_files["package.json"], "{}");
        let plain = Scenario::parse(GOOD, Path::new("good.toml")).unwrap();
        let plain = plain.wizard.unwrap();
        assert!(plain.home_files.is_empty());
        assert!(plain.project_files.is_empty());
    }

    #[test]
    fn files_that_would_leave_their_directory_are_refused() {
        for (table, path, needle) in [
            ("home_files", "../escape.json", ".."),
            ("project_files", "app/../../escape", ".."),
            ("home_files", "/etc/passwd", "relative"),
            ("project_files", "", "empty"),
            ("project_files", "./package.json", "plain names"),
        ] {
            let text = GOOD.replace(
                "[expect]\n",
                &format!("{table} = {{ \"{path}\" = \"x\" }}\n\n[expect]\n"),
            );
            let message = format!(
                "{:#}",
                Scenario::parse(&text, Path::new("fixtures/scenarios/good.toml")).unwrap_err()
            );
            assert!(message.contains(table), "{message}");
            assert!(message.contains(needle), "{path}: {message}");
            assert!(
                message.contains("fixtures/scenarios/good.toml"),
                "{message}"
            );
        }
        for good in ["package.json", ".claude/settings.json", "a/b/c.txt"] {
            assert!(check_relative(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn server_request_count_parses() {
        let text = GOOD.replace(
            "[expect.server]\nusers = 1\n",
            "[expect.server]\nusers = 1\nrequests = 0\n",
        );
        assert_ne!(text, GOOD);
        let scenario = Scenario::parse(&text, Path::new("good.toml")).unwrap();
        assert_eq!(scenario.expect.server.unwrap().requests, Some(0));
    }

    const STEPS_ONLY: &str = r#"
name = "steps"
description = "HTTP steps only."

[server]
profile = "current"
seed = "seeds/orchestrator.toml"

[[steps]]
kind = "http"
label = "signed health"
method = "GET"
path = "/api/agentic/provisioning/health"
sign = { secret = "whsec_test_new_fake" }
expect = { status = 200, json = { "/status" = "ok" } }

[[steps]]
kind = "advance_clock"
seconds = 301

[expect.server]
users = 0
"#;

    #[test]
    fn a_scenario_of_steps_alone_parses() {
        let scenario = Scenario::parse(STEPS_ONLY, Path::new("steps.toml")).unwrap();
        assert_eq!(scenario.wizard, None);
        assert_eq!(scenario.steps.len(), 2);
        assert_eq!(scenario.steps[0].label(), "signed health");
        assert!(scenario.wizard_args(&values()).unwrap().is_empty());
        assert_eq!(scenario.expect.server.unwrap().users, Some(0));
    }

    #[test]
    fn step_errors_name_the_step_and_the_file() {
        let cases = [
            ("seconds = 301", "secs = 301", "secs"),
            ("sign = { secret", "sign = { secrt", "secrt"),
            ("expect = { status = 200,", "expect = { stat = 200,", "stat"),
            ("now\"", "later\"", "step 1 (signed health)"),
            (
                "[expect.server]\n",
                "[expect]\nexit_code = 0\n[expect.server]\n",
                "no [wizard]",
            ),
        ];
        let with_at = STEPS_ONLY.replace(
            "sign = { secret = \"whsec_test_new_fake\" }",
            "sign = { secret = \"whsec_test_new_fake\", at = \"now\" }",
        );
        for (anchor, replacement, needle) in cases {
            let text = with_at.replacen(anchor, replacement, 1);
            assert_ne!(text, with_at, "anchor {anchor:?} not found");
            let message = format!(
                "{:#}",
                Scenario::parse(&text, Path::new("fixtures/scenarios/steps.toml")).unwrap_err()
            );
            assert!(message.contains(needle), "{needle}: {message}");
            assert!(
                message.contains("fixtures/scenarios/steps.toml"),
                "{message}"
            );
        }
        let nothing = "name = \"steps\"\ndescription = \"d\"\n[server]\nprofile = \"current\"\n";
        let message = format!(
            "{:#}",
            Scenario::parse(nothing, Path::new("steps.toml")).unwrap_err()
        );
        assert!(message.contains("[[steps]]"), "{message}");
    }

    const RUNS: &str = r#"
name = "runs"
description = "Wizard runs as steps."

[server]
profile = "current"
seed = "seeds/login-user.toml"

[gateway]
agent_dir = "agent/malicious"

[project]
app = "next-js"
project_files = { "notes.txt" = "x" }

[[steps]]
kind = "wizard"
background = true
args = ["--signup", "--email", "login@example.com", "--callback-port", "{free_port}"]

[[steps]]
kind = "wizard_output"
pattern = '^(http://\S+/oauth/authorize\?\S+)$'
save = { url = 1 }

[[steps]]
kind = "browser_follow"
deliver = true

[[steps]]
kind = "wizard_wait"
expect = { exit_code = 0, project = "integrated" }

[[steps]]
kind = "wizard"
args = ["--ci", "--api-key", "{saved.pat}"]
expect = { exit_code = 0, output_contains = ["nothing changed"], project = "unchanged" }

[expect]
exit_code = 0
project = "integrated"
absent = ["outside.txt", "/tmp/x"]
"#;

    #[test]
    fn wizard_runs_as_steps_parse_with_a_project_table() {
        let scenario = Scenario::parse(RUNS, Path::new("runs.toml")).unwrap();
        assert_eq!(scenario.wizard, None);
        assert_eq!(
            scenario.gateway.agent_dir.as_deref(),
            Some("agent/malicious")
        );
        let setup = scenario.project_setup().unwrap();
        assert_eq!(setup.app, "next-js");
        assert_eq!(setup.project_files["notes.txt"], "x");
        assert_eq!(scenario.steps.len(), 5);
        assert_eq!(scenario.expect.absent, ["outside.txt", "/tmp/x"]);
        let Step::Wizard(first) = &scenario.steps[0] else {
            panic!("{:?}", scenario.steps[0])
        };
        assert!(first.background);
        // [wizard] still sets up the project the same way.
        let from_wizard = Scenario::parse(GOOD, Path::new("good.toml")).unwrap();
        assert_eq!(from_wizard.project_setup().unwrap().app, "next-js");
    }

    #[test]
    fn wizard_steps_out_of_order_are_refused_naming_the_step() {
        let wait = "[[steps]]\nkind = \"wizard_wait\"\nexpect = { exit_code = 0, project = \"integrated\" }\n";
        let cases = [
            // No project to run in.
            (
                RUNS.replace(
                    "[project]\napp = \"next-js\"\nproject_files = { \"notes.txt\" = \"x\" }\n",
                    "",
                ),
                "needs a project",
            ),
            // Both ways of naming the project.
            (
                RUNS.replace("[project]\n", "[wizard]\napp = \"next-js\"\n\n[project]\n"),
                "not both",
            ),
            // Another run while the background one still runs.
            (RUNS.replace(wait, ""), "step 4 (wizard --ci"),
            // Never waited for at all.
            (
                RUNS.replace(wait, "")
                    .split("[[steps]]\nkind = \"wizard\"\nargs")
                    .next()
                    .unwrap()
                    .to_owned(),
                "never waited for",
            ),
            // A wait with nothing running.
            (
                RUNS.replace("background = true\n", ""),
                "step 2 (wizard prints",
            ),
            (
                RUNS.replace(
                    "agent_dir = \"agent/malicious\"",
                    "agent_dir = \"../agent\"",
                ),
                "agent_dir",
            ),
            (RUNS.replace("absent = [", "absnet = ["), "absnet"),
        ];
        for (text, needle) in cases {
            let message = format!(
                "{:#}",
                Scenario::parse(&text, Path::new("fixtures/scenarios/runs.toml")).unwrap_err()
            );
            assert!(message.contains(needle), "{needle}: {message}");
            assert!(
                message.contains("fixtures/scenarios/runs.toml"),
                "{message}"
            );
        }
        // Run expectations need a run; project expectations a project.
        let no_runs = RUNS.split("[[steps]]").next().unwrap().to_owned()
            + "[[steps]]\nkind = \"advance_clock\"\nseconds = 1\n\n[expect]\nexit_code = 0\n";
        let message = format!(
            "{:#}",
            Scenario::parse(&no_runs, Path::new("runs.toml")).unwrap_err()
        );
        assert!(message.contains("no wizard step"), "{message}");
        let project_only = no_runs.replace("exit_code = 0", "project = \"untouched\"");
        assert!(Scenario::parse(&project_only, Path::new("runs.toml")).is_ok());
    }

    #[test]
    fn profile_files_resolve_against_fixtures() {
        let mut scenario = Scenario::parse(GOOD, Path::new("good.toml")).unwrap();
        assert_eq!(scenario.profile_argument(Path::new("/f")), "legacy");
        scenario.server.profile = "profiles/odd.toml".to_owned();
        assert_eq!(
            scenario.profile_argument(Path::new("/f")),
            "/f/profiles/odd.toml"
        );
    }
}
