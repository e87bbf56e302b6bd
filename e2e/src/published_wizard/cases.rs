//! The end-to-end cases of expected.toml judged: a run to the wizard's own
//! exit must reach its expected outcome, exit with its code, and leave the
//! project as the case says. `integrated` is the app's checklist, the same
//! one the scenarios use (`fixtures/apps/<app>.integrated.toml`, checked by
//! [`crate::expect::check_project`]); `untouched` is the same check plus the
//! digest of the whole tree (directories, modes) unchanged.

use std::path::Path;

use anyhow::Result;

use super::expected::Case;
use super::outputs::write_redacted;
use super::project_state::{render_diff, ProjectStates};
use super::result::{CellResult, Ending};
use crate::integrated::IntegratedProject;
use crate::scenario::{Expect, ProjectExpectation};

/// One case as run and judged.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Its index in expected.toml's cases.
    pub index: usize,
    pub case: Case,
    /// The run; its `problems` hold every mismatch of the case.
    pub run: CellResult,
    /// Files created, changed and removed (`created a, b; changed c`).
    pub project_summary: Option<String>,
    /// The digests of the tree before and after.
    pub digests: Option<(String, String)>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.run.passed()
    }

    /// The exit code the wizard ended with, if it exited.
    pub fn exit_code(&self) -> Option<i32> {
        match self.run.ending {
            Some(Ending::Exited(code)) => Some(code),
            _ => None,
        }
    }
}

/// Judges a case's run: its outcome against the case's (through
/// `run.expected`), its ending, its project; writes `project.diff` into
/// `run_dir`.
pub fn judge(
    index: usize,
    case: &Case,
    checklist: Option<&IntegratedProject>,
    mut run: CellResult,
    project: Option<&ProjectStates>,
    run_dir: &Path,
) -> Result<CaseResult> {
    run.expected = Some(case.outcome);
    let mut result = CaseResult {
        index,
        case: case.clone(),
        run,
        project_summary: None,
        digests: None,
    };
    let Some(project) = project else {
        // The run never got as far as the wizard: its problem says why.
        return Ok(result);
    };
    if let Some(ending) = result.run.ending {
        result
            .run
            .problems
            .extend(ending_mismatches(case.exit_code, ending));
    }
    result
        .run
        .problems
        .extend(error_code_mismatches(case, &result.run));
    result
        .run
        .problems
        .extend(project_mismatches(case.project, checklist, project));
    let difference = crate::project::Difference::between(&project.before, &project.after);
    result.project_summary = Some(describe(&difference));
    result.digests = Some((project.digest_before.clone(), project.digest_after.clone()));
    write_redacted(
        &run_dir.join("project.diff"),
        &render_diff(&project.before, &project.after),
    )?;
    Ok(result)
}

/// The wizard must have exited by itself, with `code`.
pub fn ending_mismatches(code: i32, ending: Ending) -> Vec<String> {
    match ending {
        Ending::Exited(actual) if actual == code => Vec::new(),
        Ending::Exited(actual) => vec![format!("wizard exit code: expected {code}, got {actual}")],
        Ending::StoppedAfterGateway => {
            vec!["the run was stopped before the wizard exited".to_owned()]
        }
        Ending::TimedOut => vec!["the wizard timed out and was killed".to_owned()],
        Ending::Signalled(signal) => vec![format!("the wizard was killed by signal {signal}")],
    }
}

/// The wizard's own `phw-error:` code, when the case names one.
pub fn error_code_mismatches(case: &Case, run: &CellResult) -> Vec<String> {
    match (&case.wizard_error, &run.wizard_error) {
        (Some(wanted), Some(actual)) if wanted == actual => Vec::new(),
        (Some(wanted), actual) => vec![format!(
            "the wizard's error code: expected {wanted}, got {}",
            actual.as_deref().unwrap_or("none")
        )],
        (None, _) => Vec::new(),
    }
}

/// The project against the case: the scenarios' own check, then for
/// `untouched` the whole tree's digest.
pub fn project_mismatches(
    wanted: ProjectExpectation,
    checklist: Option<&IntegratedProject>,
    project: &ProjectStates,
) -> Vec<String> {
    let expect = Expect {
        project: Some(wanted),
        ..Expect::default()
    };
    let mut mismatches =
        crate::expect::check_project(&expect, checklist, &project.before, &project.after);
    if wanted == ProjectExpectation::Untouched && project.digest_before != project.digest_after {
        mismatches.push(format!(
            "project should be untouched, but the tree's digest changed ({} → {})",
            project.digest_before, project.digest_after
        ));
    }
    mismatches
}

/// `nothing` or `created a, b; changed c; removed d`.
pub fn describe(difference: &crate::project::Difference) -> String {
    let mut parts = Vec::new();
    for (verb, paths) in [
        ("created", &difference.created),
        ("changed", &difference.changed),
        ("removed", &difference.removed),
    ] {
        if !paths.is_empty() {
            parts.push(format!("{verb} {}", paths.join(", ")));
        }
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::Manifest;

    fn states(before: &[(&str, &str)], after: &[(&str, &str)], same_digest: bool) -> ProjectStates {
        let manifest = |files: &[(&str, &str)]| -> Manifest {
            files
                .iter()
                .map(|(path, text)| ((*path).to_owned(), text.as_bytes().to_vec()))
                .collect()
        };
        ProjectStates {
            before: manifest(before),
            after: manifest(after),
            digest_before: "sha256:aa".to_owned(),
            digest_after: if same_digest {
                "sha256:aa"
            } else {
                "sha256:bb"
            }
            .to_owned(),
        }
    }

    fn next_js_checklist() -> IntegratedProject {
        let text = std::fs::read_to_string(
            crate::binaries::workspace_root().join("fixtures/apps/next-js.integrated.toml"),
        )
        .unwrap();
        IntegratedProject::parse(&text, Path::new("next-js.integrated.toml")).unwrap()
    }

    #[test]
    fn a_case_ends_only_by_the_wizard_exiting_with_its_code() {
        let cases = [
            (0, Ending::Exited(0), None),
            (1, Ending::Exited(1), None),
            (0, Ending::Exited(1), Some("expected 0, got 1")),
            (0, Ending::StoppedAfterGateway, Some("stopped before")),
            (0, Ending::TimedOut, Some("timed out")),
            (0, Ending::Signalled(9), Some("signal 9")),
        ];
        for (code, ending, mismatch) in cases {
            let found = ending_mismatches(code, ending);
            match mismatch {
                None => assert!(found.is_empty(), "{ending}: {found:?}"),
                Some(needle) => assert!(
                    found.len() == 1 && found[0].contains(needle),
                    "{ending}: {found:?}"
                ),
            }
        }
    }

    #[test]
    fn untouched_means_the_same_files_and_the_same_digest() {
        let files = [("package.json", "{}")];
        let same = states(&files, &files, true);
        assert!(project_mismatches(ProjectExpectation::Untouched, None, &same).is_empty());
        // Only the digest saw it (an empty directory, a mode bit).
        let digest_only = states(&files, &files, false);
        let found = project_mismatches(ProjectExpectation::Untouched, None, &digest_only);
        assert!(
            found.len() == 1 && found[0].contains("digest changed"),
            "{found:?}"
        );
        let written = states(&files, &[("package.json", "{}"), (".env", "K=v")], false);
        let found = project_mismatches(ProjectExpectation::Untouched, None, &written);
        assert!(
            found.iter().any(|found| found.contains(".env")),
            "{found:?}"
        );
    }

    #[test]
    fn integrated_is_the_apps_own_checklist() {
        let before = [
            ("package.json", "{\"dependencies\": {}}"),
            ("app/page.tsx", "export default function Page() {}"),
        ];
        let integrated = [
            (
                "package.json",
                "{\"dependencies\": {\"posthog-js\": \"^1\"}}",
            ),
            (
                "app/page.tsx",
                "import posthog from 'posthog-js'; posthog.capture('x')",
            ),
            (
                ".env.local",
                "NEXT_PUBLIC_POSTHOG_KEY=phc_abc\nNEXT_PUBLIC_POSTHOG_HOST=http://localhost:8010\n",
            ),
            (
                "instrumentation-client.ts",
                "posthog.init(process.env.NEXT_PUBLIC_POSTHOG_KEY!, {})",
            ),
        ];
        let checklist = next_js_checklist();
        let done = states(&before, &integrated, false);
        let found = project_mismatches(ProjectExpectation::Integrated, Some(&checklist), &done);
        assert!(found.is_empty(), "{found:?}");
        // The agent wrote nothing: every item of the checklist says so.
        let nothing = states(&before, &before, true);
        let found = project_mismatches(ProjectExpectation::Integrated, Some(&checklist), &nothing);
        assert!(
            found.iter().any(|found| found.contains(".env.local")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|found| found.contains("package.json")),
            "{found:?}"
        );
    }

    #[test]
    fn the_project_summary_names_each_kind_of_change() {
        let difference = crate::project::Difference {
            created: vec![".env".to_owned(), "init.ts".to_owned()],
            changed: vec!["package.json".to_owned()],
            removed: Vec::new(),
        };
        assert_eq!(
            describe(&difference),
            "created .env, init.ts; changed package.json"
        );
        assert_eq!(describe(&Default::default()), "nothing");
    }
}
