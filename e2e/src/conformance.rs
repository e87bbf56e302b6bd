//! The conformance suite's format and scoring: behaviours of PostHog's own
//! tests, one case per real test, in `fixtures/conformance/<area>.toml`,
//! run against our server by `conformance_run.rs` (`e2e conformance`).
//!
//! ```toml
//! gateway = true                   # optional: an LLM gateway beside the server
//!
//! [[cases]]
//! real = "test_oauth_token.py::TestOAuthToken::test_code_is_single_use"
//! description = "A code exchanged once is invalid_grant the second time."
//! eras = ["current", "legacy"]     # the server profiles it holds for
//! gap = "what our server lacks"    # optional: expected to fail, pending server work
//! differs = "why"                  # optional: a deliberate difference (BEYOND.md)
//! seed = "conformance/other.toml"  # optional: another server for this case
//!
//! [[cases.steps]]                  # e2e's `http`, `advance_clock` and browser steps
//! kind = "http"
//! method = "POST"
//! path = "/api/agentic/oauth/token"
//! form = { grant_type = "authorization_code", code = "{saved.code}" }
//! expect = { status = 400, json = { "/error" = "invalid_grant" } }
//!
//! [[not_observable]]               # real tests not ported: no HTTP trace
//! real = "test_oauth_token.py::TestOAuthToken::test_event_captured"
//! why = "an analytics event"
//! ```
//!
//! A case *holds* when every step's checks hold. The marker rules
//! ([`verdict`]): an unmarked case must hold; a `gap` or `differs` case
//! must not (so a mark cannot outlive the difference it names).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::steps::Step;

/// The areas, most important first: one file each under `fixtures/conformance/`.
pub const AREAS: [&str; 13] = [
    "account_requests",
    "authorize",
    "token",
    "resources",
    "signatures",
    "scopes",
    "rotate",
    "deep_links",
    "services",
    "health",
    "wizard_gateway_token",
    "posthog_api",
    "remove",
];

/// The seed every area's server loads unless a case names another.
pub const DEFAULT_SEED: &str = "conformance/seed.toml";

/// One area file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaFile {
    /// Start an LLM gateway mock beside the area's server and point the
    /// server's `--wizard-gateway-url` at it (the gateway mints `phe_`);
    /// otherwise the server's gateway-token endpoint is off.
    #[serde(default)]
    pub gateway: bool,
    #[serde(default)]
    pub cases: Vec<Case>,
    /// Real tests of the area that observe only internal state.
    #[serde(default)]
    pub not_observable: Vec<NotObservable>,
    /// Filled from the file name, not written in the file.
    #[serde(skip)]
    pub area: String,
}

/// One behaviour of one real test.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// `file.py::Class::test`, the real test's identifier (a parameterized
    /// case carries its suffix: `test_x_0_name`, `test_x[a0-b0]`).
    pub real: String,
    /// One line, in our own words.
    pub description: String,
    /// Server profiles (`fixtures/profiles/<era>.toml`) the behaviour holds for.
    pub eras: Vec<String>,
    #[serde(default)]
    pub gap: Option<String>,
    #[serde(default)]
    pub differs: Option<String>,
    /// A seed file relative to the fixtures directory (default [`DEFAULT_SEED`]).
    #[serde(default)]
    pub seed: Option<String>,
    pub steps: Vec<Step>,
}

/// A real test left out because nothing of it shows over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotObservable {
    pub real: String,
    pub why: String,
}

/// What a case is marked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    None,
    Gap,
    Differs,
}

/// How one case ended on one era.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Unmarked and it held.
    Holds,
    /// Marked `gap` and it did not hold, as expected.
    Gap,
    /// Marked `differs` and it did not hold, as expected.
    Differs,
    /// Unmarked and it did not hold.
    Fails,
    /// Marked, yet it held: the mark must go.
    MarkedButHolds,
}

impl Verdict {
    /// Whether the run stays green with this verdict.
    pub fn acceptable(self) -> bool {
        matches!(self, Verdict::Holds | Verdict::Gap | Verdict::Differs)
    }
}

/// The marker rules.
pub fn verdict(mark: Mark, held: bool) -> Verdict {
    match (mark, held) {
        (Mark::None, true) => Verdict::Holds,
        (Mark::None, false) => Verdict::Fails,
        (Mark::Gap, false) => Verdict::Gap,
        (Mark::Differs, false) => Verdict::Differs,
        (Mark::Gap | Mark::Differs, true) => Verdict::MarkedButHolds,
    }
}

impl Case {
    pub fn mark(&self) -> Mark {
        match (&self.gap, &self.differs) {
            (Some(_), _) => Mark::Gap,
            (None, Some(_)) => Mark::Differs,
            (None, None) => Mark::None,
        }
    }

    /// The seed file relative to the fixtures directory.
    pub fn seed(&self) -> &str {
        self.seed.as_deref().unwrap_or(DEFAULT_SEED)
    }

    fn validate(&self, known_eras: &[String]) -> Result<()> {
        let parts: Vec<&str> = self.real.split("::").collect();
        let well_formed = parts.len() >= 2
            && parts[0].ends_with(".py")
            && parts.iter().all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '[' | ']' | '-')
                    })
            });
        if !well_formed {
            bail!(
                "real = {:?} is not a test identifier `file.py::Class::test`",
                self.real
            );
        }
        if self.description.trim().is_empty() || self.description.contains('\n') {
            bail!("the description must be one non-empty line");
        }
        if self.eras.is_empty() {
            bail!("eras is empty: name the server profiles the behaviour holds for");
        }
        for era in &self.eras {
            if !known_eras.contains(era) {
                bail!(
                    "era {era:?} has no profile (known: {})",
                    known_eras.join(", ")
                );
            }
        }
        if self.gap.is_some() && self.differs.is_some() {
            bail!("a case is a `gap` or a `differs`, not both");
        }
        for (key, text) in [("gap", &self.gap), ("differs", &self.differs)] {
            if text.as_deref().is_some_and(|text| text.trim().is_empty()) {
                bail!("`{key}` must say what differs");
            }
        }
        if self.steps.is_empty() {
            bail!("a case needs at least one step");
        }
        for (index, step) in self.steps.iter().enumerate() {
            let allowed = matches!(
                step,
                Step::Http(_)
                    | Step::AdvanceClock(_)
                    | Step::BrowserOpen(_)
                    | Step::BrowserSubmit(_)
                    | Step::BrowserFollow(_)
            );
            if !allowed {
                bail!(
                    "step {} ({}): a conformance case has only `http`, `advance_clock` and browser steps (a person signed in to the server's pages)",
                    index + 1,
                    step.label()
                );
            }
            step.validate()
                .with_context(|| format!("step {} ({})", index + 1, step.label()))?;
        }
        Ok(())
    }
}

impl AreaFile {
    /// Parses an area file; `origin` names it in errors and gives the area.
    pub fn parse(text: &str, origin: &Path, known_eras: &[String]) -> Result<AreaFile> {
        let mut file: AreaFile = toml::from_str(text)
            .with_context(|| format!("invalid conformance file {}", origin.display()))?;
        let area = origin
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .to_owned();
        if !AREAS.contains(&area.as_str()) {
            bail!(
                "conformance file {}: {area:?} is not an area (one of {})",
                origin.display(),
                AREAS.join(", ")
            );
        }
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (index, case) in file.cases.iter().enumerate() {
            case.validate(known_eras).with_context(|| {
                format!(
                    "conformance file {}: case {} ({})",
                    origin.display(),
                    index + 1,
                    case.real
                )
            })?;
            // The same real test may have one case per era where its
            // behaviour changed, never two for one era.
            let eras: &mut Vec<String> = seen.entry(case.real.clone()).or_default();
            if let Some(era) = case.eras.iter().find(|era| eras.contains(era)) {
                bail!(
                    "conformance file {}: case {} repeats {} for era {era}; one case per real test and era",
                    origin.display(),
                    index + 1,
                    case.real
                );
            }
            eras.extend(case.eras.iter().cloned());
        }
        for skipped in &file.not_observable {
            if seen.contains_key(&skipped.real) {
                bail!(
                    "conformance file {}: {} is both a case and not observable",
                    origin.display(),
                    skipped.real
                );
            }
        }
        file.area = area;
        Ok(file)
    }
}

/// The eras: the stem of every `fixtures/profiles/*.toml`, sorted.
pub fn eras(fixtures: &Path) -> Result<Vec<String>> {
    let dir = fixtures.join("profiles");
    let mut eras: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .filter_map(|path| path.file_stem()?.to_str().map(str::to_owned))
        .collect();
    eras.sort();
    Ok(eras)
}

/// Every area file of `fixtures/conformance/`, in [`AREAS`] order.
pub fn load_all(fixtures: &Path, known_eras: &[String]) -> Result<Vec<AreaFile>> {
    let dir = fixtures.join("conformance");
    let mut files = Vec::new();
    for area in AREAS {
        let path: PathBuf = dir.join(format!("{area}.toml"));
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        files.push(AreaFile::parse(&text, &path, known_eras)?);
    }
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let stem = path.file_stem().and_then(|stem| stem.to_str());
            let is_area = stem.is_some_and(|stem| AREAS.contains(&stem));
            let is_seed = path.extension().is_some_and(|ext| ext == "toml")
                && stem.is_some_and(|stem| stem.contains("seed"));
            if path.extension().is_some_and(|ext| ext == "toml") && !is_area && !is_seed {
                bail!(
                    "{} is neither an area file ({}) nor a seed",
                    path.display(),
                    AREAS.join(", ")
                );
            }
        }
    }
    Ok(files)
}

/// One case's outcome on one era.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    pub era: String,
    pub area: String,
    pub real: String,
    pub verdict: Verdict,
    /// The gap or differs text, when marked.
    pub mark_text: Option<String>,
    /// Masked mismatches, when it did not hold.
    pub mismatches: Vec<String>,
}

/// Behaviours that hold out of those ported, for one era and area.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub ported: usize,
    pub holds: usize,
    pub gaps: usize,
    pub differs: usize,
    /// Unexpected: unmarked failures and marks that hold.
    pub broken: usize,
}

impl Tally {
    fn add(&mut self, verdict: Verdict) {
        self.ported += 1;
        match verdict {
            Verdict::Holds => self.holds += 1,
            Verdict::Gap => self.gaps += 1,
            Verdict::Differs => self.differs += 1,
            Verdict::Fails => self.broken += 1,
            // It holds, but the run fails until the mark goes.
            Verdict::MarkedButHolds => {
                self.holds += 1;
                self.broken += 1;
            }
        }
    }
}

/// The score of a run: (era, area) → tally, and each era's total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Score {
    pub by_area: BTreeMap<(String, String), Tally>,
    pub by_era: BTreeMap<String, Tally>,
}

pub fn score(results: &[CaseResult]) -> Score {
    let mut score = Score::default();
    for result in results {
        score
            .by_area
            .entry((result.era.clone(), result.area.clone()))
            .or_default()
            .add(result.verdict);
        score
            .by_era
            .entry(result.era.clone())
            .or_default()
            .add(result.verdict);
    }
    score
}

/// Whether the run is green.
pub fn passed(results: &[CaseResult]) -> bool {
    results.iter().all(|result| result.verdict.acceptable())
}

/// The report, as Markdown (also printed): the score per era and per
/// area, then what is unexpected, the gaps and the differences.
pub fn report(results: &[CaseResult], not_observable: &[(String, NotObservable)]) -> String {
    let score = score(results);
    let mut out = String::from("# Conformance with PostHog's own tests\n\n");
    out.push_str("| era | area | holds / ported | gap | differs | unexpected |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for (era, total) in &score.by_era {
        for area in AREAS {
            if let Some(tally) = score.by_area.get(&(era.clone(), area.to_owned())) {
                let _ = writeln!(
                    out,
                    "| {era} | {area} | {} / {} | {} | {} | {} |",
                    tally.holds, tally.ported, tally.gaps, tally.differs, tally.broken
                );
            }
        }
        let _ = writeln!(
            out,
            "| **{era}** | **all** | **{} / {}** | {} | {} | {} |",
            total.holds, total.ported, total.gaps, total.differs, total.broken
        );
    }
    let mut skipped_by_area: BTreeMap<&str, usize> = BTreeMap::new();
    for (area, _) in not_observable {
        *skipped_by_area.entry(area.as_str()).or_default() += 1;
    }
    let by_area: Vec<String> = AREAS
        .iter()
        .filter_map(|area| {
            skipped_by_area
                .get(area)
                .map(|count| format!("{area} {count}"))
        })
        .collect();
    let _ = writeln!(
        out,
        "\nReal tests not ported because nothing of them shows over HTTP (or they need a part we do not model): {}{}.",
        not_observable.len(),
        match by_area.is_empty() {
            true => String::new(),
            false => format!(" ({})", by_area.join(", ")),
        }
    );
    let unexpected: Vec<&CaseResult> = results
        .iter()
        .filter(|result| !result.verdict.acceptable())
        .collect();
    if !unexpected.is_empty() {
        out.push_str("\n## Unexpected\n\n");
        for result in unexpected {
            let why = match result.verdict {
                Verdict::MarkedButHolds => {
                    "holds now, but is still marked: remove its `gap`/`differs`".to_owned()
                }
                _ => result.mismatches.join("; "),
            };
            let _ = writeln!(
                out,
                "- [{}] {} `{}`: {why}",
                result.era, result.area, result.real
            );
        }
    }
    for (title, wanted) in [
        ("Gaps (our server lacks this)", Verdict::Gap),
        ("Deliberate differences", Verdict::Differs),
    ] {
        // One line per case, with the eras it shows in.
        let mut lines: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
        for result in results.iter().filter(|result| result.verdict == wanted) {
            lines
                .entry((
                    result.area.clone(),
                    result.real.clone(),
                    result.mark_text.clone().unwrap_or_default(),
                ))
                .or_default()
                .push(result.era.clone());
        }
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n## {title}: {}\n", lines.len());
        for ((area, real, text), eras) in lines {
            let _ = writeln!(out, "- {area} `{real}` [{}]: {text}", eras.join(", "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eras() -> Vec<String> {
        vec!["current".to_owned(), "legacy".to_owned()]
    }

    const GOOD: &str = r#"
[[cases]]
real = "test_health.py::TestHealth::test_ok"
description = "Health answers ok."
eras = ["current", "legacy"]

[[cases.steps]]
kind = "http"
method = "GET"
path = "/api/agentic/provisioning/health"
expect = { status = 200 }

[[not_observable]]
real = "test_health.py::TestHealth::test_logs"
why = "a log line"
"#;

    #[test]
    fn the_marker_rules() {
        let table = [
            (Mark::None, true, Verdict::Holds, true),
            (Mark::None, false, Verdict::Fails, false),
            (Mark::Gap, false, Verdict::Gap, true),
            (Mark::Gap, true, Verdict::MarkedButHolds, false),
            (Mark::Differs, false, Verdict::Differs, true),
            (Mark::Differs, true, Verdict::MarkedButHolds, false),
        ];
        for (mark, held, expected, green) in table {
            let found = verdict(mark, held);
            assert_eq!(found, expected, "{mark:?} held={held}");
            assert_eq!(found.acceptable(), green, "{mark:?} held={held}");
        }
    }

    fn result(era: &str, area: &str, real: &str, verdict: Verdict) -> CaseResult {
        CaseResult {
            era: era.to_owned(),
            area: area.to_owned(),
            real: real.to_owned(),
            verdict,
            mark_text: match verdict {
                Verdict::Gap => Some("lacks x".to_owned()),
                Verdict::Differs => Some("on purpose".to_owned()),
                _ => None,
            },
            mismatches: match verdict {
                Verdict::Fails => vec!["step 1: status".to_owned()],
                _ => Vec::new(),
            },
        }
    }

    #[test]
    fn the_score_per_era_and_area() {
        let results = [
            result("current", "token", "a.py::A::a", Verdict::Holds),
            result("current", "token", "a.py::A::b", Verdict::Gap),
            result("current", "health", "h.py::H::a", Verdict::Differs),
            result("current", "health", "h.py::H::b", Verdict::MarkedButHolds),
            result("legacy", "token", "a.py::A::a", Verdict::Holds),
            result("legacy", "token", "a.py::A::c", Verdict::Fails),
        ];
        let score = score(&results);
        let tally = |era: &str, area: &str| score.by_area[&(era.to_owned(), area.to_owned())];
        let cases = [
            (tally("current", "token"), (2, 1, 1, 0, 0)),
            (tally("current", "health"), (2, 1, 0, 1, 1)),
            (tally("legacy", "token"), (2, 1, 0, 0, 1)),
            (score.by_era["current"], (4, 2, 1, 1, 1)),
            (score.by_era["legacy"], (2, 1, 0, 0, 1)),
        ];
        for (found, (ported, holds, gaps, differs, broken)) in cases {
            assert_eq!(
                found,
                Tally {
                    ported,
                    holds,
                    gaps,
                    differs,
                    broken
                }
            );
        }
        assert!(!passed(&results));
        assert!(passed(&results[..3]));
        let skipped = NotObservable {
            real: "h.py::H::c".to_owned(),
            why: "a log line".to_owned(),
        };
        let text = report(&results, &[("health".to_owned(), skipped)]);
        assert!(
            text.contains("or they need a part we do not model): 1 (health 1)."),
            "{text}"
        );
        assert!(
            text.contains("| current | token | 1 / 2 | 1 | 0 | 0 |"),
            "{text}"
        );
        assert!(
            text.contains("| **current** | **all** | **2 / 4** | 1 | 1 | 1 |"),
            "{text}"
        );
        assert!(text.contains("holds now, but is still marked"), "{text}");
        assert!(
            text.contains("token `a.py::A::b` [current]: lacks x"),
            "{text}"
        );
        assert!(
            text.contains("[legacy] token `a.py::A::c`: step 1: status"),
            "{text}"
        );
    }

    #[test]
    fn a_good_file_parses_and_its_area_is_its_name() {
        let file = AreaFile::parse(GOOD, Path::new("x/health.toml"), &eras()).unwrap();
        assert_eq!(file.area, "health");
        assert_eq!(file.cases.len(), 1);
        assert_eq!(file.cases[0].mark(), Mark::None);
        assert_eq!(file.cases[0].seed(), DEFAULT_SEED);
        assert_eq!(file.not_observable.len(), 1);
    }

    #[test]
    fn bad_files_are_refused_naming_the_problem() {
        let cases = [
            (GOOD.to_owned(), "elsewhere.toml", "not an area"),
            (
                GOOD.replace("test_health.py::TestHealth::test_ok", "health is ok"),
                "health.toml",
                "not a test identifier",
            ),
            (
                GOOD.replace("\"current\", \"legacy\"", "\"future\""),
                "health.toml",
                "era \"future\"",
            ),
            (
                GOOD.replace("eras = [\"current\", \"legacy\"]", "eras = []"),
                "health.toml",
                "eras is empty",
            ),
            (
                GOOD.replace(
                    "eras = [\"current\", \"legacy\"]",
                    "eras = [\"current\"]\ngap = \"a\"\ndiffers = \"b\"",
                ),
                "health.toml",
                "not both",
            ),
            (
                GOOD.replace(
                    "eras = [\"current\", \"legacy\"]",
                    "eras = [\"current\"]\ngap = \" \"",
                ),
                "health.toml",
                "must say",
            ),
            (
                GOOD.replace(
                    "kind = \"http\"\nmethod = \"GET\"\npath = \"/api/agentic/provisioning/health\"\nexpect = { status = 200 }",
                    "kind = \"restart_server\"",
                ),
                "health.toml",
                "only `http`",
            ),
            (
                GOOD.replace("test_logs", "test_ok"),
                "health.toml",
                "both a case and not observable",
            ),
            (GOOD.replace("description", "descr"), "health.toml", "descr"),
            (
                format!(
                    "{GOOD}{}",
                    &GOOD[..GOOD.find("[[not_observable]]").unwrap()]
                ),
                "health.toml",
                "repeats",
            ),
        ];
        for (text, name, needle) in cases {
            let message = format!(
                "{:#}",
                AreaFile::parse(&text, Path::new(name), &eras()).unwrap_err()
            );
            assert!(message.contains(needle), "{needle}: {message}");
        }
    }

    /// The committed suite parses, names only known eras, and every
    /// `differs` is listed in BEYOND.md under its real test's name.
    #[test]
    fn the_committed_suite_parses_and_every_difference_is_in_beyond() {
        let root = crate::binaries::workspace_root();
        let fixtures = root.join("fixtures");
        let eras = super::eras(&fixtures).unwrap();
        assert!(eras.contains(&"current".to_owned()), "{eras:?}");
        let files = load_all(&fixtures, &eras).unwrap();
        let beyond = std::fs::read_to_string(root.join("BEYOND.md")).unwrap();
        for file in &files {
            for case in &file.cases {
                if case.differs.is_some() {
                    assert!(
                        beyond.contains(&case.real),
                        "{} is marked differs but BEYOND.md does not name it",
                        case.real
                    );
                }
            }
        }
    }
}
