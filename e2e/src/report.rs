//! What a person reads: a line per finished scenario, the final table, the
//! details of each failure, `target/e2e/report.json` for machines and
//! `target/e2e/report.md` for a pull request or a CI summary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::runner::ScenarioResult;

/// The line printed as soon as a scenario finishes.
pub fn progress_line(result: &ScenarioResult) -> String {
    format!(
        "{} {} ({})",
        verdict(result),
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
    let failed = results.iter().filter(|result| !result.passed()).count();
    lines.push(String::new());
    lines.push(format!(
        "{} scenario(s), {} passed, {failed} failed",
        results.len(),
        results.len() - failed
    ));
    lines.join("\n")
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
pub fn json(results: &[ScenarioResult]) -> String {
    let report = JsonReport {
        passed: results.iter().all(ScenarioResult::passed),
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

/// Writes the JSON report, creating its directory.
pub fn write_json(path: &Path, results: &[ScenarioResult]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, json(results)).with_context(|| format!("cannot write {}", path.display()))
}

/// The Markdown report's text: the table, then each failed scenario's
/// mismatches (the program tails stay in the terminal output).
pub fn markdown(results: &[ScenarioResult]) -> String {
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let failed = results.iter().filter(|result| !result.passed()).count();
    let mut out = vec![
        "# e2e report".to_owned(),
        String::new(),
        format!(
            "{} scenario(s), {} passed, {failed} failed.",
            results.len(),
            results.len() - failed
        ),
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
    for result in results.iter().filter(|result| !result.passed()) {
        out.push(String::new());
        out.push(format!("## `{}` failed", result.name));
        out.push(String::new());
        for mismatch in &result.mismatches {
            out.push(format!("- {}", mismatch.replace('\n', " ")));
        }
    }
    out.push(String::new());
    out.join("\n")
}

/// The Markdown report's path: the JSON report's, with `.md`.
pub fn markdown_path(json_path: &Path) -> PathBuf {
    json_path.with_extension("md")
}

/// Writes the JSON report and the Markdown one beside it; returns the
/// Markdown report's path.
pub fn write_reports(json_path: &Path, results: &[ScenarioResult]) -> Result<PathBuf> {
    write_json(json_path, results)?;
    let markdown_path = markdown_path(json_path);
    std::fs::write(&markdown_path, markdown(results))
        .with_context(|| format!("cannot write {}", markdown_path.display()))?;
    Ok(markdown_path)
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
    if result.passed() {
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
        insta::assert_snapshot!(markdown(&results), @r"
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
    fn both_reports_are_written_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let json_path = dir.path().join("e2e").join("report.json");
        let written = write_reports(&json_path, &[result("signup", &[])]).unwrap();
        assert_eq!(written, dir.path().join("e2e").join("report.md"));
        assert!(std::fs::read_to_string(&json_path)
            .unwrap()
            .contains("\"signup\""));
        assert!(std::fs::read_to_string(&written)
            .unwrap()
            .contains("| `signup` |"));
    }

    #[test]
    fn the_json_report_has_one_entry_per_scenario() {
        let results = [result("scope-bug", &["x"]), result("signup", &[])];
        let value: serde_json::Value = serde_json::from_str(&json(&results)).unwrap();
        assert_eq!(value["passed"], false);
        assert_eq!(value["scenarios"][0]["verdict"], "FAIL");
        assert_eq!(value["scenarios"][1]["duration_ms"], 1234);
    }
}
