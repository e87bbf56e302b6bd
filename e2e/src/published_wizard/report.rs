//! What a person reads after a run: the tables of the cells and of the
//! end-to-end cases (printed, and at the top of report.md), each run's
//! requests and notes (report.md) and the same as data (report.json).

use std::fmt::Write as _;

use super::cases::CaseResult;
use super::expected::EXPECTED_FILE;
use super::result::CellResult;
use crate::scenario::ProjectExpectation;

pub fn row_summary(result: &CellResult) -> String {
    let observed = result
        .outcome
        .map_or_else(|| "not run".to_owned(), |outcome| outcome.to_string());
    let verdict = if result.passed() { "ok" } else { "FAILED" };
    format!(
        "{verdict}: {observed} ({}), {:.1} s",
        result
            .ending
            .map_or_else(|| "no run".to_owned(), |ending| ending.to_string()),
        result.duration.as_secs_f64()
    )
}

pub fn failure_text(result: &CellResult) -> String {
    let mut parts = Vec::new();
    match (result.outcome, result.expected) {
        (Some(observed), Some(wanted)) if observed != wanted => {
            parts.push(format!("expected {wanted}, observed {observed}"))
        }
        (Some(observed), None) => parts.push(format!(
            "no expectation in fixtures/{EXPECTED_FILE} (observed {observed}); review and run with --bless"
        )),
        _ => {}
    }
    parts.extend(result.problems.iter().cloned());
    parts.join("; ")
}

/// The table printed at the end and put at the top of report.md.
pub fn render_table(results: &[CellResult]) -> String {
    let mut rows = vec![[
        "version".to_owned(),
        "server".to_owned(),
        "variant".to_owned(),
        "outcome".to_owned(),
        "expected".to_owned(),
        "result".to_owned(),
        "wizard".to_owned(),
        "time".to_owned(),
        "meaning".to_owned(),
    ]];
    for result in results {
        rows.push([
            result.key.version.clone(),
            result.key.profile.clone(),
            result.key.variant.label().to_owned(),
            result
                .outcome
                .map_or_else(|| "not run".to_owned(), |outcome| outcome.to_string()),
            result
                .expected
                .map_or_else(|| "(none)".to_owned(), |outcome| outcome.to_string()),
            if result.passed() { "ok" } else { "FAILED" }.to_owned(),
            result
                .ending
                .map_or_else(|| "-".to_owned(), |ending| ending.to_string()),
            format!("{:.1} s", result.duration.as_secs_f64()),
            result
                .outcome
                .map_or_else(|| failure_text(result), |outcome| outcome.gloss()),
        ]);
    }
    render_rows(&rows)
}

/// Rows as a Markdown table, the first row the header, columns padded.
pub fn render_rows<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if out.lines().count() == 1 {
            let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
            let _ = writeln!(out, "| {} |", rule.join(" | "));
        }
    }
    out
}

pub fn render_report(results: &[CellResult], cases: &[CaseResult]) -> String {
    let mut out = String::from(
        "# The published @posthog/wizard against our stack\n\n\
         Outcome: the furthest stage of the signup path in the server's and the gateway's \
         journals, and its status.\n\n",
    );
    if !results.is_empty() {
        out.push_str(&render_table(results));
    }
    if !cases.is_empty() {
        out.push_str(
            "\nEnd to end: each case runs to the wizard's own exit on a copy of its app.\n\n",
        );
        out.push_str(&render_case_table(cases));
    }
    for result in results {
        let _ = writeln!(out, "\n## {}\n", result.key);
        if !result.passed() {
            let _ = writeln!(out, "**Failed:** {}\n", failure_text(result));
        }
        out.push_str(&render_run_details(result));
        let _ = writeln!(
            out,
            "Files: `{}/` (wizard.stdout, wizard.stderr, posthog-wizard.log, journals.json, command.txt).",
            result.key.dir_name()
        );
    }
    out.push_str(&render_case_sections(cases));
    out
}

/// A run's error code, minted scopes, notes and requests, for report.md.
pub fn render_run_details(result: &CellResult) -> String {
    let mut out = String::new();
    if let Some(code) = &result.wizard_error {
        let _ = writeln!(out, "- the wizard's error code: `{code}`");
    }
    if let Some(scopes) = &result.credential_scopes {
        let _ = writeln!(
            out,
            "- minted: access token scopes {}; personal API key scopes {}",
            describe_scopes(&scopes.access_tokens),
            describe_scopes(&scopes.personal_api_keys)
        );
    }
    for note in &result.notes {
        let _ = writeln!(out, "- note: {note}");
    }
    let _ = writeln!(out, "```");
    for request in &result.requests {
        let _ = writeln!(out, "{request}");
    }
    let _ = writeln!(out, "```");
    out
}

/// Each credential's scopes in quotes (a long list counted, saying whether
/// the gateway's scope is among them), `(none)` for a scopeless one, or
/// `(no credential)`.
pub fn describe_scopes(each: &[String]) -> String {
    const LISTED_UP_TO: usize = 8;
    if each.is_empty() {
        return "(no credential)".to_owned();
    }
    each.iter()
        .map(|scopes| {
            let list: Vec<&str> = scopes.split_whitespace().collect();
            match list.len() {
                0 => "(none)".to_owned(),
                count if count <= LISTED_UP_TO => format!("\"{scopes}\""),
                count if list.contains(&"llm_gateway:read") => {
                    format!("{count} scopes with llm_gateway:read")
                }
                count => format!("{count} scopes without llm_gateway:read"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// report.json: the cells and the cases.
pub fn report_json(results: &[CellResult], cases: &[CaseResult]) -> serde_json::Value {
    serde_json::json!({
        "cells": results.iter().map(run_json).collect::<Vec<_>>(),
        "cases": cases_json(cases),
    })
}

/// One run as data.
pub fn run_json(result: &CellResult) -> serde_json::Value {
    serde_json::json!({
        "version": result.key.version,
        "server": result.key.profile,
        "variant": result.key.variant.label(),
        "outcome": result.outcome.map(|outcome| outcome.to_string()),
        "expected": result.expected.map(|outcome| outcome.to_string()),
        "passed": result.passed(),
        "ending": result.ending.map(|ending| ending.to_string()),
        "seconds": result.duration.as_secs_f64(),
        "requests": result.requests,
        "problems": result.problems,
        "notes": result.notes,
        "wizard_error": result.wizard_error,
        "access_token_scopes": result
            .credential_scopes
            .as_ref()
            .map(|scopes| scopes.access_tokens.clone()),
        "personal_api_key_scopes": result
            .credential_scopes
            .as_ref()
            .map(|scopes| scopes.personal_api_keys.clone()),
    })
}

/// The cases' table, printed after the cells' and put in report.md.
pub fn render_case_table(results: &[CaseResult]) -> String {
    let mut rows = vec![[
        "version", "server", "variant", "app", "outcome", "exit", "project", "expected", "result",
        "time",
    ]
    .map(str::to_owned)];
    for result in results {
        let case = &result.case;
        let run = &result.run;
        rows.push([
            case.key.version.clone(),
            case.key.profile.clone(),
            case.key.variant.label().to_owned(),
            case.app.clone(),
            run.outcome
                .map_or_else(|| "not run".to_owned(), |outcome| outcome.to_string()),
            run.ending
                .map_or_else(|| "-".to_owned(), |ending| ending.to_string()),
            result
                .project_summary
                .as_deref()
                .map_or_else(|| "-".to_owned(), shorten),
            format!(
                "{}, exit {}, {}",
                case.outcome,
                case.exit_code,
                match case.project {
                    ProjectExpectation::Integrated => "integrated",
                    ProjectExpectation::Untouched => "untouched",
                }
            ),
            if result.passed() { "ok" } else { "FAILED" }.to_owned(),
            format!("{:.1} s", run.duration.as_secs_f64()),
        ]);
    }
    render_rows(&rows)
}

/// At most 60 characters of the project summary, for the table.
fn shorten(summary: &str) -> String {
    const MOST: usize = 60;
    if summary.chars().count() <= MOST {
        return summary.to_owned();
    }
    let kept: String = summary.chars().take(MOST - 1).collect();
    format!("{kept}…")
}

/// Each case's section of report.md.
pub fn render_case_sections(results: &[CaseResult]) -> String {
    let mut out = String::new();
    for result in results {
        let _ = writeln!(out, "\n## {}\n", result.case);
        if !result.passed() {
            let _ = writeln!(out, "**Failed:** {}\n", failure_text(&result.run));
        }
        if let Some(summary) = &result.project_summary {
            let _ = writeln!(out, "- project: {summary}");
        }
        if let Some((before, after)) = &result.digests {
            let _ = writeln!(out, "- tree digest before {before}, after {after}");
        }
        out.push_str(&render_run_details(&result.run));
        let _ = writeln!(
            out,
            "Files: `{}/` (wizard.stdout, wizard.stderr, posthog-wizard.log, journals.json, project.diff, command.txt).",
            result.case.dir_name()
        );
    }
    out
}

/// The cases as data, for report.json.
pub fn cases_json(results: &[CaseResult]) -> serde_json::Value {
    serde_json::Value::Array(
        results
            .iter()
            .map(|result| {
                let mut value = run_json(&result.run);
                value["app"] = result.case.app.clone().into();
                value["expected_exit_code"] = result.case.exit_code.into();
                value["exit_code"] = result.exit_code().into();
                value["expected_project"] =
                    serde_json::to_value(result.case.project).unwrap_or(serde_json::Value::Null);
                value["project"] = result.project_summary.clone().into();
                value["tree_digests"] = result
                    .digests
                    .as_ref()
                    .map(|(before, after)| serde_json::json!({"before": before, "after": after}))
                    .unwrap_or(serde_json::Value::Null);
                value
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_that_did_not_run_has_no_table() {
        let cells_only = render_report(&[], &[]);
        assert!(!cells_only.contains("| version"), "{cells_only}");
        assert!(!cells_only.contains("End to end"), "{cells_only}");
    }

    #[test]
    fn a_case_row_shows_what_was_seen_beside_what_was_expected() {
        use super::super::expected::{Case, CellKey, Variant};
        use super::super::result::Ending;
        let key = CellKey {
            version: "2.73.0".to_owned(),
            profile: "legacy".to_owned(),
            variant: Variant::ScopesRemoved,
        };
        let outcome = "gateway model 401".parse().unwrap();
        let run = CellResult {
            key: key.clone(),
            outcome: Some(outcome),
            expected: Some(outcome),
            ending: Some(Ending::Exited(1)),
            duration: std::time::Duration::from_millis(200_600),
            requests: Vec::new(),
            problems: Vec::new(),
            notes: Vec::new(),
            wizard_error: Some("PHW_AUTH_INVALID_OR_EXPIRED".to_owned()),
            credential_scopes: None,
        };
        let case = Case {
            key,
            app: "next-js".to_owned(),
            outcome,
            exit_code: 1,
            project: ProjectExpectation::Untouched,
            wizard_error: None,
        };
        let result = CaseResult {
            index: 0,
            case,
            run,
            project_summary: Some("nothing".to_owned()),
            digests: Some(("sha256:aa".to_owned(), "sha256:aa".to_owned())),
        };
        let table = render_case_table(std::slice::from_ref(&result));
        let row = table.lines().nth(2).unwrap();
        for needle in [
            "2.73.0",
            "scopes removed",
            "next-js",
            "| exit 1 ",
            "| nothing ",
            "gateway model 401, exit 1, untouched",
            "| ok ",
            "200.6 s",
        ] {
            assert!(row.contains(needle), "{needle:?} not in {row}");
        }
        let sections = render_case_sections(&[result]);
        assert!(
            sections.contains("PHW_AUTH_INVALID_OR_EXPIRED"),
            "{sections}"
        );
        assert!(sections.contains("project.diff"), "{sections}");
    }

    #[test]
    fn minted_scopes_read_for_a_person() {
        let cases: [(&[&str], &str); 3] = [
            (&[], "(no credential)"),
            (&[""], "(none)"),
            (
                &["user:read llm_gateway:read", ""],
                "\"user:read llm_gateway:read\", (none)",
            ),
        ];
        for (each, text) in cases {
            let each: Vec<String> = each.iter().map(|scopes| (*scopes).to_owned()).collect();
            assert_eq!(describe_scopes(&each), text);
        }
    }
}
