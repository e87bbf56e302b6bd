//! The compatibility matrix: every client behaviour (the wizard's
//! `--scopes`) against every server profile, each cell a real signup into
//! the next-js app, classified into one outcome and compared with the
//! committed expectation `fixtures/matrix/expected.toml`.
//!
//! A cell is an ordinary [`Scenario`] built in code (with no expectations
//! of its own, so only the leak scan can fail it), run by the same runner
//! as the scenario files; the outcome comes from its exit code, its project
//! and the two admin journals. A cell that differs from the expectation
//! fails the run, naming the cell; `e2e matrix --bless` rewrites the file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use protocol::admin::Journal;

use crate::process::Ending;
use crate::runner::{ProjectState, ScenarioResult, WizardOutcome};
use crate::scenario::Scenario;

/// The expectation's path under the fixtures directory.
pub const EXPECTED_FILE: &str = "matrix/expected.toml";

/// Prefix of every cell's scenario name.
pub const CELL_PREFIX: &str = "matrix-";

/// The eras the server embeds, oldest first: always the first columns, in
/// this order, so a row reads as the real server's history.
pub const BUILT_IN_PROFILES: [&str; 4] = ["legacy", "allowlist", "ceilings", "current"];

/// One way the wizard asks for scopes: its `--scopes` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientBehaviour {
    /// The `--scopes` value, also the row label.
    pub scopes: &'static str,
    /// A short name for the cell's scenario name.
    pub slug: &'static str,
}

/// The rows: the first signup client (no scopes), today's signup list, the
/// interactive login's list, and a list with a scope no ceiling holds.
pub const CLIENT_BEHAVIOURS: [ClientBehaviour; 4] = [
    ClientBehaviour {
        scopes: "none",
        slug: "none",
    },
    ClientBehaviour {
        scopes: "signup",
        slug: "signup",
    },
    ClientBehaviour {
        scopes: "login",
        slug: "login",
    },
    ClientBehaviour {
        scopes: "user:read,introspection",
        slug: "unsupported",
    },
];

/// One column: a server profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProfile {
    /// `legacy`, `current`, or a profile file's stem.
    pub name: String,
    /// The scenario's `[server] profile`: the built-in name, or the file
    /// relative to the fixtures directory.
    pub argument: String,
}

/// What a cell ended in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Exit 0 and the app's integration checklist holds.
    Integrated,
    /// The gateway answered 401 (the signup bug).
    GatewayUnauthorized,
    /// The account request was refused with `invalid_scope`.
    InvalidScopeAtSignup,
    /// The code exchange was refused with `invalid_scope`.
    InvalidScopeAtToken,
    /// Anything else: the wizard's exit code.
    Exit(i32),
    /// No exit code at all (timed out, killed, set-up failed).
    Other(String),
}

/// One cell as run.
#[derive(Debug, Clone)]
pub struct Cell {
    pub profile: String,
    pub behaviour: String,
    pub outcome: Outcome,
    /// Empty unless the expectation says otherwise or the run leaked.
    pub mismatches: Vec<String>,
    pub duration: std::time::Duration,
    /// The cell's admin journals, for its sequence diagram.
    pub journals: crate::runner::Journals,
}

/// The matrix as run, compared with its expectation.
#[derive(Debug, Clone, Default)]
pub struct MatrixRun {
    pub profiles: Vec<String>,
    pub behaviours: Vec<String>,
    pub cells: Vec<Cell>,
    /// Expectations naming cells that no longer exist (only checked when
    /// every cell ran).
    pub stale: Vec<String>,
}

/// Expected outcomes: profile → client behaviour → outcome text.
pub type Expected = BTreeMap<String, BTreeMap<String, String>>;

impl fmt::Display for Outcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Integrated => formatter.write_str("integrated"),
            Outcome::GatewayUnauthorized => formatter.write_str("401 at gateway"),
            Outcome::InvalidScopeAtSignup => formatter.write_str("invalid_scope at signup"),
            Outcome::InvalidScopeAtToken => formatter.write_str("invalid_scope at token"),
            Outcome::Exit(code) => write!(formatter, "exit {code}"),
            Outcome::Other(text) => formatter.write_str(text),
        }
    }
}

impl MatrixRun {
    pub fn passed(&self) -> bool {
        self.stale.is_empty() && self.cells.iter().all(|cell| cell.mismatches.is_empty())
    }

    /// The observed outcomes, in the expectation file's shape.
    pub fn observed(&self) -> Expected {
        let mut observed = Expected::new();
        for cell in &self.cells {
            observed
                .entry(cell.profile.clone())
                .or_default()
                .insert(cell.behaviour.clone(), cell.outcome.to_string());
        }
        observed
    }

    /// Every mismatch, each naming its cell.
    pub fn mismatches(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .cells
            .iter()
            .flat_map(|cell| {
                cell.mismatches.iter().map(move |mismatch| {
                    format!(
                        "matrix cell (--scopes {}, profile {}): {mismatch}",
                        cell.behaviour, cell.profile
                    )
                })
            })
            .collect();
        out.extend(self.stale.iter().cloned());
        out
    }
}

/// The columns: the built-in profiles, then every `profiles/*.toml` whose
/// stem is not a built-in name (those files are the built-ins' sources).
pub fn profiles(fixtures: &Path) -> Result<Vec<ServerProfile>> {
    let mut columns: Vec<ServerProfile> = BUILT_IN_PROFILES
        .iter()
        .map(|name| ServerProfile {
            name: (*name).to_owned(),
            argument: (*name).to_owned(),
        })
        .collect();
    let dir = fixtures.join("profiles");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    files.sort();
    for path in files {
        let Some(stem) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        if BUILT_IN_PROFILES.contains(&stem) {
            continue;
        }
        columns.push(ServerProfile {
            name: stem.to_owned(),
            argument: format!("profiles/{stem}.toml"),
        });
    }
    Ok(columns)
}

/// The cell's scenario name.
pub fn cell_name(profile: &ServerProfile, behaviour: &ClientBehaviour) -> String {
    format!("{CELL_PREFIX}{}-{}", profile.name, behaviour.slug)
}

/// One cell as a scenario: a signup into the next-js app with the given
/// `--scopes` against a server with the given profile, expecting nothing
/// but the absence of leaks. Built from TOML text so it goes through the
/// same parser, and the same checks, as a scenario file.
pub fn cell_scenario(profile: &ServerProfile, behaviour: &ClientBehaviour) -> Result<Scenario> {
    let name = cell_name(profile, behaviour);
    let text = format!(
        r#"name = {name:?}
description = "Matrix cell: --scopes {scopes} against the {profile} profile."

[server]
profile = {argument:?}

[wizard]
app = "next-js"
args = ["--signup", "--email", "{{email}}", "--region", "us", "--scopes", {scopes:?}]
"#,
        scopes = behaviour.scopes,
        profile = profile.name,
        argument = profile.argument,
    );
    Scenario::parse(&text, Path::new(&format!("{name}.toml")))
}

/// Every cell's scenario, row by row.
pub fn cell_scenarios(fixtures: &Path) -> Result<Vec<Scenario>> {
    let mut scenarios = Vec::new();
    for profile in profiles(fixtures)? {
        for behaviour in &CLIENT_BEHAVIOURS {
            scenarios.push(cell_scenario(&profile, behaviour)?);
        }
    }
    Ok(scenarios)
}

/// Whether a scenario name is a matrix cell's.
pub fn is_cell(name: &str) -> bool {
    name.starts_with(CELL_PREFIX)
}

/// The outcome of a run, from its exit code, project and journals. The
/// refusals come first: a refused signup also ends in a non-zero exit.
pub fn classify(
    wizard: Option<&WizardOutcome>,
    server: Option<&Journal>,
    gateway: Option<&Journal>,
) -> Outcome {
    let refused_with_invalid_scope = |suffix: &str| {
        server.is_some_and(|journal| {
            journal.entries.iter().any(|entry| {
                entry.reason.as_deref() == Some("invalid_scope")
                    && entry.path.trim_end_matches('/').ends_with(suffix)
            })
        })
    };
    let Some(wizard) = wizard else {
        return Outcome::Other("set-up failed".to_owned());
    };
    let exit = match wizard.ending {
        Ending::Exited(code) => code,
        Ending::Signalled(signal) => return Outcome::Other(format!("signal {signal}")),
        Ending::TimedOut => return Outcome::Other("timed out".to_owned()),
    };
    let untouched = wizard.project == ProjectState::Untouched;
    if refused_with_invalid_scope("/account_requests") && untouched {
        return Outcome::InvalidScopeAtSignup;
    }
    if refused_with_invalid_scope("/oauth/token") && untouched {
        return Outcome::InvalidScopeAtToken;
    }
    // The bug as a person meets it: the gateway said 401, the wizard
    // exited 3 (authentication) and wrote nothing. A 401 in the journal
    // with any other ending is not this outcome.
    let gateway_refused =
        gateway.is_some_and(|journal| journal.entries.iter().any(|entry| entry.status == 401));
    if gateway_refused && exit == 3 && untouched {
        return Outcome::GatewayUnauthorized;
    }
    if exit == 0 && wizard.project == ProjectState::Integrated {
        return Outcome::Integrated;
    }
    Outcome::Exit(exit)
}

/// Compares the cells' results with the expectation. `complete` says every
/// cell ran (no filter, no shard), so expectations without a cell are
/// stale.
pub fn evaluate(
    columns: &[String],
    results: &[&ScenarioResult],
    expected: &Expected,
    complete: bool,
) -> MatrixRun {
    let mut run = MatrixRun {
        profiles: columns.to_vec(),
        behaviours: CLIENT_BEHAVIOURS
            .iter()
            .map(|behaviour| behaviour.scopes.to_owned())
            .collect(),
        ..MatrixRun::default()
    };
    for profile in columns {
        for behaviour in &CLIENT_BEHAVIOURS {
            let name = format!("{CELL_PREFIX}{profile}-{}", behaviour.slug);
            let Some(result) = results.iter().find(|result| result.name == name) else {
                continue;
            };
            let outcome = classify(
                result.wizard.as_ref(),
                result.journals.server.as_ref(),
                result.journals.gateway.as_ref(),
            );
            let mut mismatches = result.mismatches.clone();
            let observed = outcome.to_string();
            match expected
                .get(profile)
                .and_then(|row| row.get(behaviour.scopes))
            {
                Some(wanted) if *wanted == observed => {}
                Some(wanted) => {
                    mismatches.push(format!("expected {wanted:?}, observed {observed:?}"))
                }
                None => mismatches.push(format!(
                    "no expectation in fixtures/{EXPECTED_FILE} (observed {observed:?}); review and run `e2e matrix --bless`"
                )),
            }
            run.cells.push(Cell {
                profile: profile.clone(),
                behaviour: behaviour.scopes.to_owned(),
                outcome,
                mismatches,
                duration: result.duration,
                journals: result.journals.clone(),
            });
        }
    }
    if complete {
        for (profile, row) in expected {
            for behaviour in row.keys() {
                let known = columns.contains(profile)
                    && CLIENT_BEHAVIOURS
                        .iter()
                        .any(|known| known.scopes == behaviour);
                if !known {
                    run.stale.push(format!(
                        "fixtures/{EXPECTED_FILE} expects a cell (--scopes {behaviour}, profile {profile}) that no longer exists; run `e2e matrix --bless`"
                    ));
                }
            }
        }
    }
    run
}

/// Reads `fixtures/matrix/expected.toml`; a missing file is an empty
/// expectation (every cell then asks for `--bless`).
pub fn load_expected(fixtures: &Path) -> Result<Expected> {
    let path = fixtures.join(EXPECTED_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).with_context(|| format!("invalid matrix file {}", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Expected::new()),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The expectation file's text for a run's observations, columns and rows
/// in matrix order.
pub fn expected_text(run: &MatrixRun) -> String {
    let observed = run.observed();
    let mut out = vec![
        "# The compatibility matrix: the wizard's `--scopes` (keys) against each".to_owned(),
        "# server profile (tables), each cell a real signup into the next-js app.".to_owned(),
        "# Outcomes: integrated, 401 at gateway, invalid_scope at signup,".to_owned(),
        "# invalid_scope at token, exit N. Written by `e2e matrix --bless`".to_owned(),
        "# (`just bless`): review the diff before committing it.".to_owned(),
    ];
    for profile in &run.profiles {
        let Some(row) = observed.get(profile) else {
            continue;
        };
        out.push(String::new());
        out.push(format!("[{}]", toml_key(profile)));
        for behaviour in &run.behaviours {
            if let Some(outcome) = row.get(behaviour) {
                out.push(format!("{} = {outcome:?}", toml_key(behaviour)));
            }
        }
    }
    out.push(String::new());
    out.join("\n")
}

/// Writes the expectation from a run (`--bless`). Refuses an incomplete
/// run, which would silently drop cells.
pub fn bless(fixtures: &Path, run: &MatrixRun) -> Result<PathBuf> {
    let expected_cells = run.profiles.len() * run.behaviours.len();
    if run.cells.len() != expected_cells {
        bail!(
            "only {} of {expected_cells} matrix cells ran; bless a whole run",
            run.cells.len()
        );
    }
    let path = fixtures.join(EXPECTED_FILE);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, expected_text(run))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The terminal table: a row per client behaviour, a column per profile;
/// a differing cell shows `observed (expected …) ✗`.
pub fn table(run: &MatrixRun) -> String {
    let rows = grid(run);
    let mut widths: Vec<usize> = vec![0; rows[0].len()];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut lines = vec![render(&rows[0])];
    lines.push(render(
        &widths
            .iter()
            .map(|width| "-".repeat(*width))
            .collect::<Vec<_>>(),
    ));
    lines.extend(rows[1..].iter().map(|row| render(row)));
    let failed = run
        .cells
        .iter()
        .filter(|cell| !cell.mismatches.is_empty())
        .count();
    lines.push(String::new());
    lines.push(format!(
        "matrix: {} cell(s), {} as expected, {failed} differ",
        run.cells.len(),
        run.cells.len() - failed
    ));
    lines.join("\n")
}

/// The Markdown table of the same grid.
pub fn markdown(run: &MatrixRun) -> String {
    let rows = grid(run);
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = vec![
        format!(
            "| {} |",
            rows[0]
                .iter()
                .map(|text| cell(text))
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        format!("|{}", "---|".repeat(rows[0].len())),
    ];
    for row in &rows[1..] {
        let mut cells: Vec<String> = row.iter().map(|text| cell(text)).collect();
        cells[0] = format!("`--scopes {}`", cells[0]);
        out.push(format!("| {} |", cells.join(" | ")));
    }
    out.join("\n")
}

/// Header row then one row per behaviour; cells not run are `-`.
fn grid(run: &MatrixRun) -> Vec<Vec<String>> {
    let mut header = vec!["client \\ server".to_owned()];
    header.extend(run.profiles.iter().cloned());
    let mut rows = vec![header];
    for behaviour in &run.behaviours {
        let mut row = vec![behaviour.clone()];
        for profile in &run.profiles {
            let found = run
                .cells
                .iter()
                .find(|cell| cell.profile == *profile && cell.behaviour == *behaviour);
            row.push(match found {
                None => "-".to_owned(),
                Some(cell) if cell.mismatches.is_empty() => cell.outcome.to_string(),
                Some(cell) => format!("{} ✗", cell.outcome),
            });
        }
        rows.push(row);
    }
    rows
}

/// A TOML key: bare when it can be, quoted otherwise.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Journals;
    use protocol::admin::JournalEntry;
    use std::time::Duration;

    fn entry(path: &str, status: u16, reason: Option<&str>) -> JournalEntry {
        JournalEntry {
            at: 0,
            request_id: "r".to_owned(),
            method: "POST".to_owned(),
            path: path.to_owned(),
            status,
            credential: None,
            verdict: None,
            reason: reason.map(str::to_owned),
        }
    }

    fn journal(entries: Vec<JournalEntry>) -> Journal {
        Journal { entries }
    }

    #[test]
    fn outcomes_are_classified_from_exit_project_and_journals() {
        let signup_refused = journal(vec![entry(
            "/api/agentic/provisioning/account_requests",
            400,
            Some("invalid_scope"),
        )]);
        let token_refused = journal(vec![
            entry("/api/agentic/provisioning/account_requests", 200, None),
            entry("/api/agentic/oauth/token/", 400, Some("invalid_scope")),
        ]);
        let fine = journal(vec![entry(
            "/api/agentic/provisioning/account_requests",
            200,
            None,
        )]);
        let gateway_401 = journal(vec![entry("/wizard/v1/messages", 401, None)]);
        let gateway_ok = journal(vec![entry("/wizard/v1/messages", 200, None)]);
        use Ending::{Exited, TimedOut};
        use ProjectState::{Changed, Integrated, Untouched};
        let cases = [
            (
                Some(ran(Exited(4), Untouched)),
                Some(&signup_refused),
                Some(&gateway_ok),
                Outcome::InvalidScopeAtSignup,
            ),
            (
                Some(ran(Exited(4), Untouched)),
                Some(&token_refused),
                None,
                Outcome::InvalidScopeAtToken,
            ),
            (
                Some(ran(Exited(3), Untouched)),
                Some(&fine),
                Some(&gateway_401),
                Outcome::GatewayUnauthorized,
            ),
            // A 401 in the journal is the bug only if the wizard stopped
            // with exit 3 and wrote nothing.
            (
                Some(ran(Exited(0), Integrated)),
                Some(&fine),
                Some(&gateway_401),
                Outcome::Integrated,
            ),
            (
                Some(ran(Exited(3), Changed)),
                Some(&fine),
                Some(&gateway_401),
                Outcome::Exit(3),
            ),
            (
                Some(ran(Exited(5), Untouched)),
                Some(&fine),
                Some(&gateway_401),
                Outcome::Exit(5),
            ),
            (
                Some(ran(Exited(0), Integrated)),
                Some(&fine),
                Some(&gateway_ok),
                Outcome::Integrated,
            ),
            (
                Some(ran(Exited(0), Changed)),
                Some(&fine),
                Some(&gateway_ok),
                Outcome::Exit(0),
            ),
            (
                Some(ran(Exited(5), Untouched)),
                None,
                None,
                Outcome::Exit(5),
            ),
            (
                Some(ran(TimedOut, Untouched)),
                None,
                None,
                Outcome::Other("timed out".to_owned()),
            ),
            (None, None, None, Outcome::Other("set-up failed".to_owned())),
        ];
        for (wizard, server, gateway, wanted) in cases {
            assert_eq!(
                classify(wizard.as_ref(), server, gateway),
                wanted,
                "{wizard:?}"
            );
        }
    }

    fn ran(ending: Ending, project: ProjectState) -> WizardOutcome {
        WizardOutcome { ending, project }
    }

    #[test]
    fn profile_files_become_columns_after_the_built_ins() {
        let fixtures = tempfile::tempdir().unwrap();
        let dir = fixtures.path().join("profiles");
        std::fs::create_dir_all(&dir).unwrap();
        for file in [
            "legacy.toml",
            "allowlist.toml",
            "ceilings.toml",
            "current.toml",
            "later-2026.toml",
            "notes.md",
        ] {
            std::fs::write(dir.join(file), "").unwrap();
        }
        let columns = profiles(fixtures.path()).unwrap();
        let names: Vec<&str> = columns.iter().map(|column| column.name.as_str()).collect();
        assert_eq!(
            names,
            ["legacy", "allowlist", "ceilings", "current", "later-2026"]
        );
        assert_eq!(columns[4].argument, "profiles/later-2026.toml");
        let without = tempfile::tempdir().unwrap();
        assert_eq!(profiles(without.path()).unwrap().len(), 4);
    }

    #[test]
    fn a_cell_is_a_signup_scenario_with_the_behaviours_scopes() {
        let profile = ServerProfile {
            name: "later-2026".to_owned(),
            argument: "profiles/later-2026.toml".to_owned(),
        };
        let scenario = cell_scenario(&profile, &CLIENT_BEHAVIOURS[3]).unwrap();
        assert_eq!(scenario.name, "matrix-later-2026-unsupported");
        assert_eq!(scenario.server.profile, "profiles/later-2026.toml");
        let wizard = scenario.wizard.unwrap();
        assert_eq!(wizard.app, "next-js");
        assert_eq!(
            wizard.args[wizard.args.len() - 2..],
            ["--scopes", "user:read,introspection"]
        );
        assert!(is_cell(&scenario.name));
        assert!(!is_cell("signup-django"));
    }

    fn result(
        name: &str,
        wizard: WizardOutcome,
        server: Journal,
        gateway: Journal,
    ) -> ScenarioResult {
        ScenarioResult {
            name: name.to_owned(),
            expected: String::new(),
            observed: String::new(),
            mismatches: Vec::new(),
            duration: Duration::from_millis(100),
            diagnostics: String::new(),
            kept: None,
            journals: Journals {
                server: Some(server),
                gateway: Some(gateway),
                server_restarts: 0,
            },
            wizard: Some(wizard),
            not_run: None,
            screenshots: Vec::new(),
        }
    }

    fn sample_run(expected: &Expected, complete: bool) -> MatrixRun {
        let ok = || journal(vec![entry("/wizard/v1/messages", 200, None)]);
        let unauthorized = || journal(vec![entry("/wizard/v1/messages", 401, None)]);
        let results = [
            result(
                "matrix-legacy-none",
                ran(Ending::Exited(3), ProjectState::Untouched),
                ok(),
                unauthorized(),
            ),
            result(
                "matrix-legacy-signup",
                ran(Ending::Exited(0), ProjectState::Integrated),
                ok(),
                ok(),
            ),
        ];
        let references: Vec<&ScenarioResult> = results.iter().collect();
        evaluate(&["legacy".to_owned()], &references, expected, complete)
    }

    #[test]
    fn differing_and_unknown_cells_fail_naming_the_cell() {
        let expected: Expected = toml::from_str(
            "[legacy]\nnone = \"integrated\"\nlogin = \"integrated\"\n[gone]\nnone = \"exit 1\"\n",
        )
        .unwrap();
        let run = sample_run(&expected, true);
        assert!(!run.passed());
        assert_eq!(
            run.mismatches(),
            [
                "matrix cell (--scopes none, profile legacy): expected \"integrated\", observed \"401 at gateway\"",
                "matrix cell (--scopes signup, profile legacy): no expectation in fixtures/matrix/expected.toml (observed \"integrated\"); review and run `e2e matrix --bless`",
                "fixtures/matrix/expected.toml expects a cell (--scopes none, profile gone) that no longer exists; run `e2e matrix --bless`",
            ]
        );
        insta::assert_snapshot!(table(&run), @r"
        client \ server          legacy
        -----------------------  ----------------
        none                     401 at gateway ✗
        signup                   integrated ✗
        login                    -
        user:read,introspection  -

        matrix: 2 cell(s), 0 as expected, 2 differ
        ");
        // A partial run (filter or shard) does not call the rest stale.
        assert!(sample_run(&expected, false).stale.is_empty());
    }

    #[test]
    fn blessing_writes_what_was_observed_and_it_then_passes() {
        let run = sample_run(&Expected::new(), false);
        let text = expected_text(&run);
        assert!(text.contains("[legacy]\nnone = \"401 at gateway\"\nsignup = \"integrated\"\n"));
        let reread: Expected = toml::from_str(&text).unwrap();
        assert!(sample_run(&reread, false).passed());
        insta::assert_snapshot!(markdown(&sample_run(&reread, false)), @r"
        | client \ server | legacy |
        |---|---|
        | `--scopes none` | 401 at gateway |
        | `--scopes signup` | integrated |
        | `--scopes login` | - |
        | `--scopes user:read,introspection` | - |
        ");
        let fixtures = tempfile::tempdir().unwrap();
        assert!(bless(fixtures.path(), &run).is_err(), "2 of 4 cells ran");
    }

    #[test]
    fn keys_are_quoted_only_when_needed() {
        assert_eq!(toml_key("later-2026"), "later-2026");
        assert_eq!(
            toml_key("user:read,introspection"),
            "\"user:read,introspection\""
        );
    }
}
