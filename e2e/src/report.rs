//! What a person reads: a line per finished scenario, the final table, the
//! details of each failure, and `target/e2e/report.json` for machines.

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
    fn the_json_report_has_one_entry_per_scenario() {
        let results = [result("scope-bug", &["x"]), result("signup", &[])];
        let value: serde_json::Value = serde_json::from_str(&json(&results)).unwrap();
        assert_eq!(value["passed"], false);
        assert_eq!(value["scenarios"][0]["verdict"], "FAIL");
        assert_eq!(value["scenarios"][1]["duration_ms"], 1234);
    }
}
