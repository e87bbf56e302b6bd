//! What a person reads: a line per finished scenario, the final table, the
//! details of each failure, `target/e2e/report.json` for machines,
//! `target/e2e/report.xml` (JUnit) for CI's test view and
//! `target/e2e/report.md` for a pull request or a CI summary: the table,
//! the compatibility matrix, the failures and each scenario's HTTP exchange
//! as a Mermaid sequence diagram. No report is written holding a full
//! credential.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::matrix::MatrixRun;
use crate::mermaid;
use crate::runner::ScenarioResult;
use crate::secrets;

/// The line printed as soon as a scenario finishes.
pub fn progress_line(result: &ScenarioResult) -> String {
    format!(
        "{} {} ({})",
        verdict(result),
        result.name,
        format_duration(result.duration)
    )
}

/// The line printed when a matrix cell finishes: its verdict comes from
/// the comparison with the expected matrix, after every cell ran.
pub fn ran_line(result: &ScenarioResult) -> String {
    format!(
        "RAN  {} ({})",
        result.name,
        format_duration(result.duration)
    )
}

/// The summary table: scenario, expected, observed, verdict, time.
pub fn table(results: &[ScenarioResult]) -> String {
    let header = ["scenario", "expected", "observed", "verdict", "time"];
    let rows: Vec<[String; 5]> = results
        .iter()
        .map(|result| {
            [
                result.name.clone(),
                result.expected.clone(),
                result.observed.clone(),
                verdict(result).to_owned(),
                format_duration(result.duration),
            ]
        })
        .collect();
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| {
                let pad = width - cell.chars().count();
                format!("{cell}{}", " ".repeat(pad))
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut lines = vec![render(&header.map(str::to_owned))];
    lines.push(render(&widths.map(|width| "-".repeat(width))));
    lines.extend(rows.iter().map(|row| render(row)));
    lines.push(String::new());
    lines.push(format!(
        "{} scenario(s), {}",
        results.len(),
        counts(results)
    ));
    lines.join("\n")
}

/// `N passed, N failed` and, when some were left out, `, N not run`.
fn counts(results: &[ScenarioResult]) -> String {
    let failed = results.iter().filter(|result| !result.passed()).count();
    let skipped = results.iter().filter(|result| result.skipped()).count();
    let passed = results.len() - failed - skipped;
    match skipped {
        0 => format!("{passed} passed, {failed} failed"),
        _ => format!("{passed} passed, {failed} failed, {skipped} not run"),
    }
}

/// Why each scenario left out was not run (empty when all ran).
pub fn not_run(results: &[ScenarioResult]) -> String {
    results
        .iter()
        .filter_map(|result| {
            let why = result.not_run.as_ref()?;
            Some(format!("=== {} NOT RUN: {why}", result.name))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each failed scenario's mismatches and the tails of its programs' output.
pub fn failures(results: &[ScenarioResult]) -> String {
    let mut out = Vec::new();
    for result in results.iter().filter(|result| !result.passed()) {
        out.push(format!("=== {} FAILED", result.name));
        for mismatch in &result.mismatches {
            out.push(format!("  - {mismatch}"));
        }
        if !result.diagnostics.is_empty() {
            out.push(result.diagnostics.clone());
        }
        if result.kept.is_none() {
            out.push(format!(
                "  (scratch directory removed; `e2e run {} --keep` keeps it)",
                result.name
            ));
        }
        out.push(String::new());
    }
    out.join("\n")
}

#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    passed: bool,
    scenarios: Vec<JsonScenario<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    matrix: Vec<JsonCell<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonCell<'a> {
    client: &'a str,
    profile: &'a str,
    outcome: String,
    mismatches: &'a [String],
    duration_ms: u128,
}

#[derive(Debug, Serialize)]
struct JsonScenario<'a> {
    name: &'a str,
    verdict: &'static str,
    expected: &'a str,
    observed: &'a str,
    mismatches: &'a [String],
    duration_ms: u128,
}

/// The JSON report's text.
pub fn json(results: &[ScenarioResult], matrix: Option<&MatrixRun>) -> String {
    let report = JsonReport {
        passed: results.iter().all(ScenarioResult::passed) && matrix.is_none_or(MatrixRun::passed),
        matrix: matrix
            .map(|run| {
                run.cells
                    .iter()
                    .map(|cell| JsonCell {
                        client: &cell.behaviour,
                        profile: &cell.profile,
                        outcome: cell.outcome.to_string(),
                        mismatches: &cell.mismatches,
                        duration_ms: cell.duration.as_millis(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        scenarios: results
            .iter()
            .map(|result| JsonScenario {
                name: &result.name,
                verdict: verdict(result),
                expected: &result.expected,
                observed: &result.observed,
                mismatches: &result.mismatches,
                duration_ms: result.duration.as_millis(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&report).expect("the report serialises")
}

/// The JUnit report's text (`report.xml`, which CI renders as test
/// results): a suite `scenarios` with one case per scenario and, when the
/// matrix ran, a suite `matrix` with one case per cell. A failing case
/// carries its mismatches, every case its expected and observed summary
/// as `system-out`; times are seconds. quick-junit writes the XML and
/// drops what XML cannot hold (control characters, ANSI colours).
pub fn junit(results: &[ScenarioResult], matrix: Option<&MatrixRun>) -> String {
    let scenarios = results.iter().map(|result| JunitCase {
        name: result.name.clone(),
        mismatches: &result.mismatches,
        skipped: result.not_run.clone(),
        duration: result.duration,
        summary: format!(
            "expected: {}\nobserved: {}",
            result.expected, result.observed
        ),
    });
    let mut report = quick_junit::Report::new("e2e");
    report.add_test_suite(junit_suite("scenarios", scenarios));
    if let Some(run) = matrix {
        let cells = run.cells.iter().map(|cell| JunitCase {
            name: format!("--scopes {} against {}", cell.behaviour, cell.profile),
            mismatches: &cell.mismatches,
            skipped: None,
            duration: cell.duration,
            summary: format!("observed: {}", cell.outcome),
        });
        report.add_test_suite(junit_suite("matrix", cells));
    }
    let time = report
        .test_suites
        .iter()
        .filter_map(|suite| suite.time)
        .sum();
    report.set_time(time);
    report.to_string().expect("the JUnit report serialises")
}

/// One testcase before it is written.
struct JunitCase<'a> {
    name: String,
    /// Empty when it passed.
    mismatches: &'a [String],
    /// Why it was left out, when it was.
    skipped: Option<String>,
    duration: Duration,
    /// Expected and observed, for `system-out`.
    summary: String,
}

/// A suite of cases, its time the sum of theirs.
fn junit_suite<'a>(
    name: &str,
    cases: impl Iterator<Item = JunitCase<'a>>,
) -> quick_junit::TestSuite {
    let mut suite = quick_junit::TestSuite::new(name);
    let mut time = Duration::ZERO;
    for case in cases {
        let status = match (case.mismatches.is_empty(), case.skipped) {
            (true, Some(why)) => {
                let mut skipped = quick_junit::TestCaseStatus::skipped();
                skipped.set_message(why);
                skipped
            }
            (true, None) => quick_junit::TestCaseStatus::success(),
            (false, _) => {
                let mut failure =
                    quick_junit::TestCaseStatus::non_success(quick_junit::NonSuccessKind::Failure);
                failure
                    .set_message(format!("{} mismatch(es)", case.mismatches.len()))
                    .set_type("mismatch")
                    .set_description(case.mismatches.join("\n"));
                failure
            }
        };
        let mut test_case = quick_junit::TestCase::new(case.name, status);
        test_case
            .set_classname(format!("e2e.{name}"))
            .set_time(case.duration)
            .set_system_out(case.summary);
        suite.add_test_case(test_case);
        time += case.duration;
    }
    suite.set_time(time);
    suite
}

/// The Markdown report's text: the table, the matrix, each failed
/// scenario's mismatches (the program tails stay in the terminal output),
/// then each scenario's HTTP exchange.
pub fn markdown(results: &[ScenarioResult], matrix: Option<&MatrixRun>) -> String {
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = vec![
        "# e2e report".to_owned(),
        String::new(),
        format!("{} scenario(s), {}.", results.len(), counts(results)),
        String::new(),
        "| scenario | expected | observed | verdict | time |".to_owned(),
        "|---|---|---|---|---|".to_owned(),
    ];
    for result in results {
        out.push(format!(
            "| `{}` | {} | {} | {} | {} |",
            result.name,
            cell(&result.expected),
            cell(&result.observed),
            verdict(result),
            format_duration(result.duration)
        ));
    }
    if let Some(run) = matrix {
        out.push(String::new());
        out.push("## Compatibility matrix".to_owned());
        out.push(String::new());
        out.push(format!(
            "The wizard's `--scopes` against each server profile, each cell a real signup into the next-js app; expected in `fixtures/{}`.",
            crate::matrix::EXPECTED_FILE
        ));
        out.push(String::new());
        out.push(crate::matrix::markdown(run));
        let mismatches = run.mismatches();
        if !mismatches.is_empty() {
            out.push(String::new());
            for mismatch in mismatches {
                out.push(format!("- {}", mismatch.replace('\n', " ")));
            }
        }
        for cell in &run.cells {
            out.push(String::new());
            out.push(format!(
                "<details><summary><code>--scopes {}</code> against <code>{}</code>: {}</summary>",
                cell.behaviour, cell.profile, cell.outcome
            ));
            push_diagram(&mut out, &cell.journals, &[]);
        }
    }
    for result in results.iter().filter(|result| result.skipped()) {
        out.push(String::new());
        out.push(format!(
            "## `{}` not run\n\n{}",
            result.name,
            result.not_run.as_deref().unwrap_or_default()
        ));
    }
    for result in results.iter().filter(|result| !result.passed()) {
        out.push(String::new());
        out.push(format!("## `{}` failed", result.name));
        out.push(String::new());
        for mismatch in &result.mismatches {
            out.push(format!("- {}", mismatch.replace('\n', " ")));
        }
    }
    let traced: Vec<&ScenarioResult> = results
        .iter()
        .filter(|result| result.journals.server.is_some() || result.journals.gateway.is_some())
        .collect();
    if !traced.is_empty() {
        out.push(String::new());
        out.push("## HTTP exchanges".to_owned());
        out.push(String::new());
        out.push("From the admin journals; credentials masked, introspection drawn inside the gateway call it served.".to_owned());
    }
    for result in traced {
        out.push(String::new());
        out.push(format!(
            "<details><summary><code>{}</code> ({})</summary>",
            result.name,
            verdict(result)
        ));
        let shots = screenshot_links(result);
        push_diagram(&mut out, &result.journals, &shots);
    }
    out.push(String::new());
    out.join("\n")
}

/// A fenced Mermaid diagram of the journals, then the Chromium steps'
/// screenshots, closing a `<details>`.
fn push_diagram(out: &mut Vec<String>, journals: &crate::runner::Journals, shots: &[String]) {
    out.push(String::new());
    out.push("```mermaid".to_owned());
    out.push(mermaid::sequence_diagram(
        journals.server.as_ref(),
        journals.gateway.as_ref(),
    ));
    out.push("```".to_owned());
    out.push(String::new());
    if !shots.is_empty() {
        out.push("What Chromium showed at the end of each step:".to_owned());
        out.push(String::new());
        out.extend(shots.iter().cloned());
        out.push(String::new());
    }
    out.push("</details>".to_owned());
}

/// A Markdown link per screenshot, relative to the reports' folder (each
/// scenario's screenshots are in its own folder there).
fn screenshot_links(result: &ScenarioResult) -> Vec<String> {
    result
        .screenshots
        .iter()
        .map(|shot| {
            let file = shot
                .path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!(
                "- [{}]({}/{file})",
                shot.title.replace(['[', ']'], ""),
                result.name
            )
        })
        .collect()
}

/// The Markdown report's path: the JSON report's, with `.md`.
pub fn markdown_path(json_path: &Path) -> PathBuf {
    json_path.with_extension("md")
}

/// The JUnit report's path: the JSON report's, with `.xml`.
pub fn junit_path(json_path: &Path) -> PathBuf {
    json_path.with_extension("xml")
}

/// Writes the JSON report and, beside it, the Markdown and JUnit ones;
/// returns every path written. A report that would hold a full credential
/// is not written, and the run fails naming it (masked).
pub fn write_reports(
    json_path: &Path,
    results: &[ScenarioResult],
    matrix: Option<&MatrixRun>,
) -> Result<Vec<PathBuf>> {
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let reports = [
        (json_path.to_path_buf(), json(results, matrix)),
        (markdown_path(json_path), markdown(results, matrix)),
        (junit_path(json_path), junit(results, matrix)),
    ];
    let sources: Vec<secrets::Source> = reports
        .iter()
        .map(|(path, text)| secrets::Source {
            label: path.display().to_string(),
            text: text.clone(),
        })
        .collect();
    let leaks = secrets::scan(&sources);
    if !leaks.is_empty() {
        anyhow::bail!(
            "reports not written, they would leak credentials: {}",
            leaks.join("; ")
        );
    }
    let mut written = Vec::new();
    for (path, text) in reports {
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// `target/e2e/report.json`: the target directory is the one the harness
/// runs from (`target/<profile>/e2e`), else `$CARGO_TARGET_DIR`, else the
/// workspace's `target/`.
pub fn default_report_path() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let target = exe.parent()?.parent()?;
        (target.file_name()? == "target").then(|| target.to_path_buf())
    });
    let target = from_exe
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| crate::binaries::workspace_root().join("target"));
    target.join("e2e").join("report.json")
}

fn verdict(result: &ScenarioResult) -> &'static str {
    if result.skipped() {
        "NOT RUN"
    } else if result.passed() {
        "PASS"
    } else {
        "FAIL"
    }
}

fn format_duration(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, mismatches: &[&str]) -> ScenarioResult {
        ScenarioResult {
            name: name.to_owned(),
            expected: "exit 3, untouched".to_owned(),
            observed: "exit 0, integrated".to_owned(),
            mismatches: mismatches.iter().map(|text| text.to_string()).collect(),
            duration: Duration::from_millis(1234),
            diagnostics: "  --- wizard stderr ---\n    boom".to_owned(),
            kept: None,
            journals: crate::runner::Journals::default(),
            wizard: None,
            not_run: None,
            screenshots: Vec::new(),
        }
    }

    #[test]
    fn the_table_reads_well() {
        let results = [
            result("scope-bug", &["wizard exit code: expected 3, got 0"]),
            result("signup", &[]),
        ];
        insta::assert_snapshot!(table(&results), @r"
        scenario   expected           observed            verdict  time
        ---------  -----------------  ------------------  -------  ----
        scope-bug  exit 3, untouched  exit 0, integrated  FAIL     1.2s
        signup     exit 3, untouched  exit 0, integrated  PASS     1.2s

        2 scenario(s), 1 passed, 1 failed
        ");
    }

    #[test]
    fn failures_list_mismatches_and_tails_only_for_failed_scenarios() {
        let results = [
            result("scope-bug", &["wizard exit code: expected 3, got 0"]),
            result("signup", &[]),
        ];
        let text = failures(&results);
        assert!(text.contains("=== scope-bug FAILED"));
        assert!(text.contains("  - wizard exit code: expected 3, got 0"));
        assert!(text.contains("boom"));
        assert!(!text.contains("signup"));
    }

    #[test]
    fn the_markdown_report_has_the_table_and_each_failure() {
        let results = [
            result(
                "scope-bug",
                &["wizard exit code: expected 3, got 0", "a | pipe"],
            ),
            result("signup", &[]),
        ];
        insta::assert_snapshot!(markdown(&results, None), @r"
        # e2e report

        2 scenario(s), 1 passed, 1 failed.

        | scenario | expected | observed | verdict | time |
        |---|---|---|---|---|
        | `scope-bug` | exit 3, untouched | exit 0, integrated | FAIL | 1.2s |
        | `signup` | exit 3, untouched | exit 0, integrated | PASS | 1.2s |

        ## `scope-bug` failed

        - wizard exit code: expected 3, got 0
        - a | pipe
        ");
    }

    #[test]
    fn every_report_is_written_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let json_path = dir.path().join("e2e").join("report.json");
        let written = write_reports(&json_path, &[result("signup", &[])], None).unwrap();
        let e2e = dir.path().join("e2e");
        assert_eq!(
            written,
            [
                e2e.join("report.json"),
                e2e.join("report.md"),
                e2e.join("report.xml")
            ]
        );
        let read = |path: &Path| std::fs::read_to_string(path).unwrap();
        assert!(read(&written[0]).contains("\"signup\""));
        assert!(read(&written[1]).contains("| `signup` |"));
        assert!(read(&written[2]).contains("<testcase name=\"signup\""));
    }

    #[test]
    fn a_report_holding_a_full_credential_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let json_path = dir.path().join("report.json");
        let secret = "phx_fakeAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let leaky = result("signup", &[&format!("saw {secret}")]);
        let message = format!(
            "{:#}",
            write_reports(&json_path, &[leaky], None).unwrap_err()
        );
        assert!(message.contains("phx_***"), "{message}");
        assert!(!message.contains(secret));
        assert!(!json_path.exists());
    }

    #[test]
    fn the_markdown_report_draws_each_exchange_and_the_matrix() {
        use protocol::admin::{Journal, JournalEntry};
        let mut traced = result("signup", &[]);
        traced.journals.gateway = Some(Journal {
            entries: vec![JournalEntry {
                at: 0,
                request_id: "r1".to_owned(),
                method: "POST".to_owned(),
                path: "/wizard/v1/messages".to_owned(),
                status: 200,
                credential: Some("pha_***".to_owned()),
                verdict: Some("granted".to_owned()),
                reason: None,
            }],
        });
        let run = MatrixRun {
            profiles: vec!["legacy".to_owned()],
            behaviours: vec!["none".to_owned()],
            ..MatrixRun::default()
        };
        let text = markdown(&[traced], Some(&run));
        assert!(text.contains("## Compatibility matrix"), "{text}");
        assert!(text.contains("| `--scopes none` | - |"), "{text}");
        assert!(text.contains("```mermaid\nsequenceDiagram"), "{text}");
        assert!(
            text.contains("W->>G: POST /wizard/v1/messages [pha_***]"),
            "{text}"
        );
        let xml = junit(&[result("signup", &[])], Some(&run));
        assert!(
            xml.contains(r#"<testsuite name="matrix" tests="0""#),
            "{xml}"
        );
    }

    /// If this fails, a reviewer reading report.md cannot find what
    /// Chromium showed, or a scenario left out locally reads as passed.
    #[test]
    fn screenshots_sit_beside_the_diagram_and_left_out_scenarios_say_why() {
        use protocol::admin::Journal;
        let mut shot = result("chromium-login", &[]);
        shot.journals.server = Some(Journal { entries: vec![] });
        shot.screenshots = vec![crate::chromium_step::Screenshot {
            title: "step 3 (sign in)".to_owned(),
            path: PathBuf::from("/tmp/e2e/chromium-login/step-03.png"),
        }];
        let mut left_out = result("chromium-other", &[]);
        left_out.not_run = Some("Chromium cannot start; install it with: apt-get".to_owned());
        let results = [shot, left_out];
        let text = markdown(&results, None);
        let diagram = text.find("```mermaid").unwrap();
        let link = text
            .find("- [step 3 (sign in)](chromium-login/step-03.png)")
            .unwrap_or_else(|| panic!("{text}"));
        let closed = text[diagram..].find("</details>").unwrap() + diagram;
        assert!(diagram < link && link < closed, "{text}");
        assert!(
            text.contains("2 scenario(s), 1 passed, 0 failed, 1 not run."),
            "{text}"
        );
        assert!(text.contains("## `chromium-other` not run"), "{text}");
        assert!(table(&results).contains("NOT RUN"));
        assert!(not_run(&results).contains("=== chromium-other NOT RUN: Chromium cannot start"));
        let xml = junit(&results, None);
        assert!(
            xml.contains("<skipped message=\"Chromium cannot start"),
            "{xml}"
        );
    }

    #[test]
    fn the_json_report_has_one_entry_per_scenario() {
        let results = [result("scope-bug", &["x"]), result("signup", &[])];
        let value: serde_json::Value = serde_json::from_str(&json(&results, None)).unwrap();
        assert_eq!(value["passed"], false);
        assert_eq!(value["scenarios"][0]["verdict"], "FAIL");
        assert_eq!(value["scenarios"][1]["duration_ms"], 1234);
    }

    /// If this fails, CI's test view would show other suites, cases,
    /// failures or times than the run had (the shape the hand-written
    /// writer produced, attribute order and indentation aside).
    #[test]
    fn the_junit_report_has_a_case_per_scenario_with_failures_and_times() {
        let mut failed = result("scope-bug", &["wizard output lacks \"<401> & co\""]);
        failed.duration = Duration::from_millis(1500);
        let mut passed = result("signup", &[]);
        passed.duration = Duration::from_millis(250);
        insta::assert_snapshot!(junit(&[failed, passed], None), @r#"
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites name="e2e" tests="2" skipped="0" failures="1" errors="0" time="1.750">
            <testsuite name="scenarios" tests="2" skipped="0" errors="0" failures="1" time="1.750">
                <testcase name="scope-bug" classname="e2e.scenarios" time="1.500">
                    <failure message="1 mismatch(es)" type="mismatch">wizard output lacks &quot;&lt;401&gt; &amp; co&quot;</failure>
                    <system-out>expected: exit 3, untouched
        observed: exit 0, integrated</system-out>
                </testcase>
                <testcase name="signup" classname="e2e.scenarios" time="0.250">
                    <system-out>expected: exit 3, untouched
        observed: exit 0, integrated</system-out>
                </testcase>
            </testsuite>
        </testsuites>
        "#);
    }

    /// XML 1.0 cannot hold control characters: a wizard's coloured output
    /// quoted in a mismatch must not make report.xml unreadable.
    #[test]
    fn control_characters_and_colours_are_dropped_from_the_junit_report() {
        let xml = junit(&[result("x", &["a\u{1b}[31mb\u{7}c\n'"])], None);
        assert!(xml.contains(">abc\n&apos;</failure>"), "{xml}");
    }
}
